"""Helpers for end-to-end run tests: the demo script, and running `agent run` against a server."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn

# Fixture suites need no plugins; skipping their autoload halves every test run.
TEST_CMD = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"
CRITICS = ("reviewer", "qa", "security", "performance")


def demo_script() -> Script:
    return Script.load(Path(str(resources.files("agent.testing") / "scripts" / "demo.json")))


def verdict(kind: str = "approve", *findings: dict) -> Turn:
    return Turn(content=json.dumps({"verdict": kind, "findings": list(findings)}))


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
