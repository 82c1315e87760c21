"""Helpers for end-to-end run tests: the demo script, and running `agent run` against a server."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from importlib import resources
from pathlib import Path

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from critics.registry import BUILTIN_CRITICS

# Fixture suites need no plugins; skipping their autoload halves every test run.
TEST_CMD = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"
CRITICS = BUILTIN_CRITICS


def demo_script() -> Script:
    return Script.load(Path(str(resources.files("agent.testing") / "scripts" / "demo.json")))


def verdict(kind: str = "approve", *findings: dict) -> Turn:
    return Turn(content=json.dumps({"verdict": kind, "findings": list(findings)}))


def calc_finding(message: str, severity: str = "high") -> dict:
    """A blocking finding on the calc fixture that carries evidence the gate finds in the tree."""
    return {"severity": severity, "message": message, "file": "calc/stats.py", "line": 1,
            "evidence": '"""Descriptive statistics over a non-empty sequence of numbers."""', "suggestion": None}


def run_args(server: ScriptedServer, repo: Path, task: str = "fix the median", *extra: str) -> list[str]:
    return ["run", task, "--repo", str(repo), "--base-url", server.base_url, "--test-cmd", TEST_CMD,
            "--json", "--yes", *extra]


def executor_requests(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests_for("executor")]


def plan_turn(*titles: str) -> Turn:
    """The planner's answer: one step per title."""
    steps = [{"title": t, "description": f"{t}.", "acceptance": "the tests pass"} for t in titles]
    return Turn(content=json.dumps({"steps": steps}))


def executor_turn(tool: str, **arguments: object) -> Turn:
    """One executor turn that calls `tool` with `arguments`."""
    return Turn(tool_calls=[ToolCallSpec(name=tool, arguments=arguments)])


def write_turn(path: str, content: str) -> Turn:
    return executor_turn("write_file", path=path, content=content)


def finish_turn(summary: str = "done") -> Turn:
    return executor_turn("finish_step", summary=summary)


def scripted(planner: Turn, executor: list[Turn]) -> Script:
    """A script: this plan, these executor turns, every critic approving."""
    return Script(turns={"planner": [planner], "executor": executor},
                  defaults={name: verdict() for name in CRITICS})


def run_at_a_terminal(args: list[str], answer: bytes = b"") -> tuple[int, str]:
    """Run `agent ARGS` on a pseudo-terminal, answer the plan question, return exit code and screen."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the agent
        os.execvp(sys.executable, [sys.executable, "-m", "agent", *args])
    screen, answered, deadline = b"", False, time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[Y/n]" in screen:
                os.write(fd, answer)
                answered = True
    finally:
        if time.monotonic() >= deadline:  # a child still writing would block on a terminal no one reads
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def fix_median_turn() -> Turn:
    """The executor's fix of the calc_bug fixture: the even-length median's index pair."""
    patch = ("calc/stats.py\n<<<<<<< SEARCH\n    return (ordered[mid] + ordered[mid + 1]) / 2\n=======\n"
             "    return (ordered[mid - 1] + ordered[mid]) / 2\n>>>>>>> REPLACE\n")
    return executor_turn("write_patch", patch=patch)
