"""At a terminal, `agent run` shows the plan and asks before any step runs."""

from __future__ import annotations

import json

from agent.testing import ScriptedServer
from conftest import git, make_repo
from run_helpers import TEST_CMD, demo_script, run_at_a_terminal


def test_declining_the_plan_runs_no_step_leaves_nothing_and_ends_declined(tmp_path):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        code, screen = run_at_a_terminal(
            ["run", "fix the median", "--repo", str(repo), "--base-url", server.base_url, "--test-cmd", TEST_CMD], b"n\r")
        executor_calls = len(server.requests_for("executor"))
    assert code == 1  # not done, and nothing to resume
    assert "carry out these 2 steps?" in screen and "agent resume" not in screen
    assert ": declined" in screen and "the plan was declined, so its branch and worktree were removed" in screen
    assert executor_calls == 0
    assert git(repo, "branch", "--list", "agent/*") == "" and git(repo, "worktree", "list").count("\n") == 1
    (run,) = (repo / ".agent" / "runs").iterdir()
    report = json.loads((run / "report.json").read_text())
    assert report["status"] == "declined" and report["workspace_state"] == "discarded"
