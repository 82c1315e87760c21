"""Browser QA through `agent run`: the qa critic starts the web_notes fixture app in the sandbox from a
scratch copy of the judged tree, drives its form in Chromium, finds the broken flow (the form posts to
a route the server does not have), and the step is rejected with the interaction's errors and a
screenshot saved in the run's folder; once the form is fixed the same flow passes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.testing import Script, ScriptedServer, Turn
from conftest import make_repo
from run_helpers import CRITICS, executor_requests, executor_turn, finish_turn, plan_turn, run_args, verdict, write_turn
from tools.browser import browser_missing
from tools.sandbox import detect_sandbox

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=f"browser QA cannot run here: {browser_missing()}")

PAGE = Path(__file__).parent.parent / "workspace_fixtures" / "web_notes" / "notes" / "page.py"


def _page(action: str, heading: str) -> str:
    return PAGE.read_text().replace('action="/note"', f'action="{action}"').replace("<h1>Notes</h1>", f"<h1>{heading}</h1>")


def _flow() -> list[Turn]:
    """The user flow qa walks: open the page, type a note, press Add."""
    return [executor_turn("browser_open", path="/"), executor_turn("browser_fill", name="Note", value="milk"),
            executor_turn("browser_click", role="button", name="Add")]


def _processes_under(folder: Path) -> list[str]:
    """Processes whose working directory lies in `folder` (the app runs in its scratch copy)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(folder) in os.readlink(entry / "cwd"):
                found.append(entry.name)
        except OSError:
            continue
    return found


def test_browser_qa_finds_the_broken_form_and_saves_a_screenshot(tmp_path, cli):
    repo = make_repo(tmp_path / "notes", "web_notes")
    scratch_parent = tmp_path / "tmp"
    scratch_parent.mkdir()
    finding = {"severity": "high", "message": "Adding a note fails: pressing Add gives 'not found' (interaction 3)",
               "file": "notes/page.py", "line": 9, "suggestion": "post the form to /notes"}
    script = Script(
        turns={"planner": [plan_turn("Rename the page heading")],
               "executor": [write_turn("notes/page.py", _page("/note", "My notes")), finish_turn("heading renamed"),
                            write_turn("notes/page.py", _page("/notes", "My notes")), finish_turn("form fixed")],
               "qa": [*_flow(), verdict("request_changes", finding), *_flow(), verdict()]},
        defaults={name: verdict() for name in CRITICS})
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "rename the heading"), env={"TMPDIR": str(scratch_parent)}, timeout=300)
        revision = executor_requests(server)[2]["messages"][-1]["content"]
        qa_first = server.requests_for("qa")[0].body
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["steps"][0]["attempts"] == 2

    run_folder = repo / ".agent" / "runs" / report["run_id"]
    events = [json.loads(line) for line in (run_folder / "events.jsonl").read_text().splitlines()]
    clicks = [e for e in events if e["type"] == "qa_browser" and e["action"].startswith("click")]
    assert [c["failed"] for c in clicks] == [True, False]
    assert "HTTP 404 for POST http://127.0.0.1:8000/note" in clicks[0]["problems"]
    shot = run_folder / clicks[0]["screenshot"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The rejected step's finding carries the interaction's errors and the screenshot, and so does the revision.
    qa = next(e for e in events if e["type"] == "gate")["verdicts"]["qa"]
    cited = json.dumps(qa["findings"])
    assert qa["verdict"] == "request_changes" and "HTTP 404 for POST" in cited
    screenshot = f".agent/runs/{report['run_id']}/{clicks[0]['screenshot']}"
    assert screenshot in cited and screenshot in revision and "HTTP 404 for POST" in revision

    # qa read the page as text: the accessibility tree came back from its first action.
    tools = [t["function"]["name"] for t in qa_first["tools"]]
    assert {"browser_open", "browser_click", "browser_fill", "browser_read"} <= set(tools)
    opened = next(e for e in events if e["type"] == "qa_browser" and e["action"].startswith("open"))
    assert opened["failed"] is False and opened["sandboxed"] is detect_sandbox().available
    # The app and the browser ended with the gate, and their scratch copy is gone.
    assert _processes_under(scratch_parent) == [] and list(scratch_parent.glob("agent-*")) == []


def test_a_browser_that_cannot_start_is_an_error_the_critic_reads_and_the_run_goes_on(tmp_path, cli):
    repo = make_repo(tmp_path / "notes", "web_notes")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "chromium").write_text("#!/bin/sh\necho 'chromium: cannot open display' >&2\nexit 1\n")
    (fake / "chromium").chmod(0o755)
    script = Script(
        turns={"planner": [plan_turn("Rename the page heading")],
               "executor": [write_turn("notes/page.py", _page("/notes", "My notes")), finish_turn("heading renamed")],
               "qa": [executor_turn("browser_open", path="/"), verdict()]},
        defaults={name: verdict() for name in CRITICS})
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "rename the heading"), env={"PATH": f"{fake}:{os.environ['PATH']}"},
                     timeout=300)
        answer = server.requests_for("qa")[1].body["messages"][-1]["content"]
    assert result.exit_code == 0, result.stderr
    assert "the browser could not start here" in answer
    report = json.loads(result.stdout)
    events = [json.loads(line) for line in (repo / ".agent/runs" / report["run_id"] / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events].count("qa_browser_failed") == 1
