"""Shared by the batch tests (no tests here): three fixture repositories, a spec, and a scripted model
that gives every target a coherent trajectory of its own, decided from the task in each request."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from agent.testing import RateLimits, Script, ScriptedServer, ToolCallSpec, Turn
from conftest import make_repo

CRITICS = ("reviewer", "qa", "security", "performance")
REJECT = "reject-me"  # a target whose task marker says this is refused by every critic, every time
_MARKER = re.compile(r"\(TASK: ([^)]*)\)")


def make_repos(root: Path) -> dict[str, Path]:
    """calc, todo and users: three real git repositories from workspace_fixtures/."""
    root.mkdir(parents=True, exist_ok=True)
    return {name: make_repo(root / name, fixture)
            for name, fixture in (("calc", "calc_bug"), ("todo", "todo_feature"), ("users", "user_store"))}


def task_of(body: dict[str, Any]) -> str:
    """The marker in the task of the run a request belongs to (every role's first user message carries it)."""
    first = next(m["content"] for m in body["messages"] if m["role"] == "user")
    match = _MARKER.search(first)
    assert match, f"no task marker in: {first[:300]}"
    return match.group(1)


def planner(body: dict[str, Any], role: str) -> Turn:
    plan = {"steps": [{"title": "Add the note", "description": "Write NOTES.md.", "acceptance": "NOTES.md exists."}]}
    return Turn(reasoning="One step is enough.", content=json.dumps(plan))


def executor(body: dict[str, Any], role: str) -> Turn:
    """Write NOTES.md on a new step or a revision request; finish once the tool answered."""
    if body["messages"][-1]["role"] == "tool":
        return Turn(content="Done.", tool_calls=[ToolCallSpec(name="finish_step", arguments={"summary": "Wrote NOTES.md."})])
    note = task_of(body)
    return Turn(reasoning="Write the note.", tool_calls=[
        ToolCallSpec(name="write_file", arguments={"path": "NOTES.md", "content": f"{note}\n"})])


def critic(body: dict[str, Any], role: str) -> Turn:
    if REJECT in task_of(body):
        finding = {"severity": "high", "message": "not acceptable", "file": "NOTES.md", "line": 1,
                   "evidence": task_of(body), "suggestion": None}
        return Turn(content=json.dumps({"verdict": "request_changes", "findings": [finding]}))
    return Turn(content=json.dumps({"verdict": "approve", "findings": []}))


def scripted_server(delay_s: float = 0.0) -> ScriptedServer:
    """A server (use it in `with`) answering every role by responder; `delay_s` slows each planner answer."""
    server = ScriptedServer(Script(rate_limits=RateLimits(tokens_minute=10**9)))
    slow = (lambda body, role: planner(body, role).model_copy(update={"delay_s": delay_s})) if delay_s else planner
    server.set_responder("planner", slow)
    server.set_responder("executor", executor)
    for name in CRITICS:
        server.set_responder(name, critic)
    return server


def write_spec(path: Path, server: ScriptedServer, targets: str, **settings: Any) -> Path:
    """A spec beside the repositories: the note task, `true` as the test command, the server's URL."""
    lines = ['task: "Add a note about {path} (TASK: {kind} note {path})"', 'test_cmd: "true"',
             f"base_url: {server.base_url}", "vars: {kind: plain}"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\ntargets:\n" + targets)
    return path


SEVEN_TARGETS = """\
  - repo: calc
    glob: "calc/*.py"
  - repo: todo
    glob: "todo/*.py"
  - repo: users
    id: users-store
    vars: {path: users/store.py}
"""
SEVEN_IDS = ["calc:calc/__init__.py", "calc:calc/stats.py", "todo:todo/__init__.py", "todo:todo/__main__.py",
             "todo:todo/cli.py", "todo:todo/store.py", "users-store"]


def planner_count(server: ScriptedServer) -> int:
    return len(server.requests_for("planner"))


def read_results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class VirtualClock:
    """Time that moves only when someone sleeps: limiter tests run in microseconds."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def most_in_window(times: list[float], window: float = 60.0) -> int:
    """The largest number of `times` inside any half-open window of `window` seconds."""
    ordered = sorted(times)
    return max((sum(1 for u in ordered if t <= u < t + window) for t in ordered), default=0)
