"""Shared by the git-safety tests (no tests here): a one-step run whose executor turns a test names."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from run_helpers import CRITICS, verdict

PLAN = {"steps": [{"title": "Make the change", "description": "Edit the files.", "acceptance": "Done."}]}


def call(name: str, **arguments: object) -> Turn:
    """An executor turn that makes one tool call."""
    return Turn(tool_calls=[ToolCallSpec(name=name, arguments=arguments)])


def one_step(*turns: Turn, critic: Turn | None = None) -> Script:
    """A one-step plan; the executor makes `turns`' calls, then finishes; every critic answers `critic`."""
    finish = call("finish_step", summary="Made the change.")
    return Script(turns={"planner": [Turn(content=json.dumps(PLAN))], "executor": [*turns, finish]},
                  defaults={name: critic or verdict() for name in CRITICS})


def run_one(server: ScriptedServer, repo: Path, *extra: str) -> list[str]:
    """`agent run` arguments for a quick run: `true` as the test command."""
    return ["run", "make the change", "--repo", str(repo), "--base-url", server.base_url, "--test-cmd", "true",
            "--json", "--yes", *extra]


def tool_results(server: ScriptedServer) -> list[str]:
    """The content of every tool result the executor was sent, in order, without repeats."""
    seen: list[str] = []
    for request in server.requests_for("executor"):
        for message in request.body["messages"]:
            if message["role"] == "tool" and message["content"] not in seen:
                seen.append(message["content"])
    return seen


def critic_prompts(server: ScriptedServer) -> str:
    """Everything the critics were sent, as one text."""
    return "\n".join(json.dumps(r.body["messages"]) for r in server.requests if r.role in CRITICS)
