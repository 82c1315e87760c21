"""Figures for `agent batch` (prints figures; not a pass/fail test).

    python bench/batch.py [--targets 24] [--jobs 8] [--delay 0.2]

Runs the real CLI (`python -m agent batch`) on TARGETS targets spread over three fixture
repositories, against the scripted server with every model call delayed DELAY seconds, once with
`--jobs 1` (the serial time) and once with `--jobs JOBS`. Each target is a full gated run: plan,
write a file, finish the step, the test command (`true`, in the sandbox), four critics at once,
commit (the gate's test result stands as the final one: the committed tree is the tested tree).
Prints the wall times, the ideal (serial / JOBS), their ratio (target: at most 1.3), the start-up
(launch to the first model request) and the ratio against an ideal that pays it once, the CPU
floor, and the peak RSS of the batch process (its rusage from wait4).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from agent.testing import RateLimits, Script, ScriptedServer, ToolCallSpec, Turn  # noqa: E402
from critics.registry import BUILTIN_CRITICS  # noqa: E402
from conftest import make_repo  # noqa: E402

CRITICS = BUILTIN_CRITICS
FIXTURES = (("calc", "calc_bug"), ("todo", "todo_feature"), ("users", "user_store"))


def _server(delay: float) -> ScriptedServer:
    plan = {"steps": [{"title": "Add the note", "description": "Write NOTES.md.", "acceptance": "It exists."}]}
    verdict = json.dumps({"verdict": "approve", "findings": []})

    def executor(body: dict[str, Any], role: str) -> Turn:
        if body["messages"][-1]["role"] == "tool":
            return Turn(delay_s=delay, tool_calls=[ToolCallSpec(name="finish_step", arguments={"summary": "done"})])
        return Turn(delay_s=delay, tool_calls=[
            ToolCallSpec(name="write_file", arguments={"path": "NOTES.md", "content": "a note\n"})])

    script = Script(rate_limits=RateLimits(tokens_minute=10**9, requests_day=10**6),
                    defaults={"planner": Turn(delay_s=delay, content=json.dumps(plan)),
                              **{name: Turn(delay_s=delay, content=verdict) for name in CRITICS}})
    server = ScriptedServer(script)
    server.set_responder("executor", executor)
    return server


def _spec(folder: Path, server: ScriptedServer, targets: int) -> Path:
    for name, fixture in FIXTURES:
        make_repo(folder / name, fixture)
    lines = ['task: "Add a note for {path}"', 'test_cmd: "true"', f"base_url: {server.base_url}", "targets:"]
    for i in range(targets):
        name = FIXTURES[i % len(FIXTURES)][0]
        lines += [f"  - repo: {name}", f"    vars: {{path: notes/{i}.md}}"]
    spec = folder / "batch.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def run_batch(targets: int, jobs: int, delay: float) -> dict[str, float]:
    """One batch on fresh repositories: wall seconds, peak RSS (MiB), exit code, model calls."""
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp, _server(delay) as server:
        spec = _spec(Path(tmp), server, targets)
        command = [sys.executable, "-m", "agent", "batch", str(spec), "--jobs", str(jobs),
                   "--results", str(Path(tmp) / "results.jsonl")]
        started = time.perf_counter()
        launched = time.monotonic()  # the server stamps requests with the same clock
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        lines = [json.loads(x) for x in (Path(tmp) / "results.jsonl").read_text().splitlines()]
        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
        calls, first_call = len(chats), min((r.started for r in chats), default=launched) - launched
    if proc.returncode != 0:
        print(stderr, file=sys.stderr)
    ok = sum(1 for line in lines if line["status"] == "succeeded")
    return {"wall": wall, "rss_mib": usage.ru_maxrss / 1024, "exit": proc.returncode, "calls": calls,
            "first_call": first_call,
            "cpu": usage.ru_utime + usage.ru_stime,
            "succeeded": ok,
            "mean_target_s": sum(x["duration_s"] for x in lines) / max(len(lines), 1)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds before each scripted answer")
    args = parser.parse_args(argv[1:])
    serial = run_batch(args.targets, 1, args.delay)
    parallel = run_batch(args.targets, args.jobs, args.delay)
    ideal = serial["wall"] / args.jobs
    for name, figures in (("--jobs 1", serial), (f"--jobs {args.jobs}", parallel)):
        print(f"{name:>9}: wall {figures['wall']:6.2f} s, {figures['succeeded']}/{args.targets} succeeded, "
              f"{figures['calls']} model calls, mean target {figures['mean_target_s']:.2f} s, "
              f"CPU {figures['cpu']:.1f} s, peak RSS {figures['rss_mib']:.0f} MiB, exit {figures['exit']}")
    ratio = parallel["wall"] / ideal
    print(f"ideal (serial / {args.jobs}): {ideal:.2f} s; --jobs {args.jobs} took {ratio:.2f}x the ideal "
          f"(target <= 1.30: {'met' if ratio <= 1.3 else 'NOT met'})")
    # Start-up (the interpreter, the imports, reading the spec) is paid once, whatever --jobs says:
    # measured as launch to the first model request the server sees.
    startup = serial["first_call"]
    achievable = startup + (serial["wall"] - startup) / args.jobs
    print(f"start-up {startup:.2f} s (launch to first model request; --jobs {args.jobs}: "
          f"{parallel['first_call']:.2f} s) + the rest of the serial time / {args.jobs} = {achievable:.2f} s; "
          f"--jobs {args.jobs} took {parallel['wall'] / achievable:.2f}x that")
    # The CPU the runs need (git, the sandboxed tests, Python) cannot go faster than the cores allow.
    cores = len(os.sched_getaffinity(0))
    floor = max(ideal, parallel["cpu"] / cores)
    load = os.getloadavg()[0]
    print(f"{cores} cores, load average {load:.1f}: CPU floor {parallel['cpu'] / cores:.2f} s; "
          f"--jobs {args.jobs} took {parallel['wall'] / floor:.2f}x max(ideal, CPU floor)")
    return 0 if serial["exit"] == 0 and parallel["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
