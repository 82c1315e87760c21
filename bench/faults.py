"""Fault soak (printed, not asserted): N scripted runs with faults drawn at random.

Each run works on a fresh copy of the calc_bug fixture through the real CLI. Faults come from
issue 5's list (429, 500, 503, a stream cut mid-way, invalid tool JSON, an unknown tool, a
missing argument, GLM tool-call text in content, empty content at the length limit, a
context-length 400, a refused key) plus a SIGKILL of the agent mid-run. A run that stops is
resumed. Afterwards: was anything lost (the user's files, an approved step's commit, the journal)?

Usage: python bench/faults.py [--runs 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.commands.demo import make_demo_repo
from agent.journal import read_events
from agent.testing import ErrorSpec, Script, ScriptedServer, ToolCallSpec, Turn
from critics.registry import BUILTIN_CRITICS

MAX_RESUMES = 4
SCRIPT = Path(__file__).resolve().parents[1] / "agent" / "testing" / "scripts" / "demo.json"
APPROVE = Turn(content=json.dumps({"verdict": "approve", "findings": []}))
CONTEXT = "Please reduce the length of the messages or completion. Current length is 140000 while limit is 131072"
FAULTS: dict[str, Turn] = {
    "429": Turn(error=ErrorSpec(status=429, type="too_many_requests_error", message="slow", headers={"retry-after": "0"})),
    "500": Turn(error=ErrorSpec(status=500, message="boom")),
    "503": Turn(error=ErrorSpec(status=503, message="busy")),
    "cut": Turn(content="Let me think about the change to make here", cut_after_chunks=2),
    "bad-json": Turn(tool_calls=[ToolCallSpec(name="read_file", arguments='{"path": ')]),
    "unknown-tool": Turn(tool_calls=[ToolCallSpec(name="format_disk", arguments={})]),
    "missing-arg": Turn(tool_calls=[ToolCallSpec(name="read_file", arguments={})]),
    "xml-leak": Turn(content="<tool_call>list_files</tool_call>"),
    "length": Turn(reasoning="hmm " * 40, content="", finish_reason="length"),
    "context-400": Turn(error=ErrorSpec(status=400, type="invalid_request_error", code="context_length_exceeded", message=CONTEXT)),
    "401": Turn(error=ErrorSpec(status=401, type="invalid_api_key", message="Wrong API Key")),
    "kill": Turn(content="(the agent is killed while this answer is pending)", delay_s=30),
}


def step_turns() -> list[list[Turn]]:
    """The demo's executor turns per step, without the revision (critics approve at once here)."""
    turns = Script.load(SCRIPT).turns["executor"]
    return [turns[0:4], turns[7:10]]


def responder(faults: dict[int, str]):
    """Answers the executor statelessly from the conversation so far, with faults at given requests."""
    steps, count = step_turns(), [0]

    def answer(body: dict, role: str) -> Turn:
        count[0] += 1
        if count[0] in faults:
            return FAULTS[faults[count[0]]]
        step = 0 if "CURRENT STEP 1 of" in body["messages"][1]["content"] else 1
        done = sum(1 for m in body["messages"] if m["role"] == "assistant" and any(
            _scripted(c["function"]) for c in m.get("tool_calls") or []))
        return steps[step][min(done, len(steps[step]) - 1)]

    return answer


def _scripted(function: dict) -> bool:
    """True for a call of the scripted trajectory (not one of the injected faulty calls)."""
    faulty_read = function["name"] == "read_file" and function["arguments"] in ('{"path": ', "{}")
    return function["name"] in ("read_file", "write_patch", "run_tests", "finish_step") and not faulty_read


def serve(faults: dict[int, str]) -> ScriptedServer:
    script = Script.load(SCRIPT)
    script.turns = {"planner": script.turns["planner"]}
    script.defaults = {name: APPROVE for name in BUILTIN_CRITICS}
    server = ScriptedServer(script)
    server.set_responder("executor", responder(faults))
    return server


def agent(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "agent", *args], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})


def snapshot(repo: Path) -> dict[str, bytes]:
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*")
            if p.is_file() and ".git" not in p.parts and ".agent" not in p.parts}


def one_run(rng: random.Random, tmp: Path) -> tuple[str, list[str]]:
    repo = make_demo_repo(tmp)
    (repo / "uncommitted.txt").write_text("the user's own work\n")
    before = snapshot(repo)
    names = rng.sample(sorted(FAULTS), k=rng.randint(1, 3))
    faults = {rng.randint(1, 7): name for name in names}
    with serve(faults) as server:
        proc = agent("run", "fix the median", "--repo", str(repo), "--base-url", server.base_url, "--test-cmd", "true", "--json", "--yes")
        if "kill" in faults.values():
            while proc.poll() is None and not any(r.ended == 0 and r.role == "executor" for r in server.requests):
                time.sleep(0.05)
            time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
        proc.communicate()
        code = proc.returncode
        outcome = "completed" if code == 0 else "stopped"
        codes = [code]
        while codes[-1] != 0 and len(codes) <= MAX_RESUMES:  # as a user would: fix the cause, resume again
            run_id = next((repo / ".agent" / "runs").iterdir()).name
            again = agent("resume", run_id, "--repo", str(repo), "--base-url", server.base_url, "--json")
            again.communicate()
            codes.append(again.returncode)
        if code != 0:
            outcome = "resumed" if codes[-1] == 0 else f"stopped (exits {codes})"
    return outcome, names if not lost(repo, before) else [*names, "LOST"]


def lost(repo: Path, before: dict[str, bytes]) -> bool:
    """True when the user's files changed, the journal is torn, or an approved step's commit is missing."""
    if snapshot(repo) != before:
        return True
    journal = next((repo / ".agent" / "runs").glob("*/events.jsonl"))
    lines = journal.read_text().splitlines()
    if len(list(read_events(journal))) != len(lines):
        return True
    commits = [e["commit"] for e in read_events(journal) if e["type"] == "step_committed"]
    return any(subprocess.run(["git", "-C", str(repo), "cat-file", "-e", c]).returncode for c in commits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    tally: dict[str, int] = {}
    losses = 0
    started = time.monotonic()
    for i in range(options.runs):
        tmp = Path(tempfile.mkdtemp(prefix="agent-faults-"))
        try:
            outcome, names = one_run(rng, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        losses += "LOST" in names
        key = outcome.split(" (")[0]
        tally[key] = tally.get(key, 0) + 1
        print(f"run {i + 1:3}: {outcome:10} faults: {', '.join(names)}", flush=True)
    n = options.runs
    ok = tally.get("completed", 0) + tally.get("resumed", 0)
    print(f"\n{n} runs in {time.monotonic() - started:.0f} s: {tally.get('completed', 0)} completed, "
          f"{tally.get('resumed', 0)} stopped cleanly and finished by resume, "
          f"{n - ok} neither; {losses} lost anything (target: 100% completed or resumable, 0 lost)")


if __name__ == "__main__":
    main()
