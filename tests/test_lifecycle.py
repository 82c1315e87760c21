"""A run's life as a user meets it: a start that fails leaves nothing, an undone run says so, the
summary says how to take the changes, and a step that changes nothing is not committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.testing import ScriptedServer, Turn
from agent.testing.script import ErrorSpec
from conftest import git, make_repo
from run_helpers import TEST_CMD, demo_script, finish_turn, plan_turn, run_args, scripted, write_turn


def _events(repo: Path, run_id: str) -> list[dict]:
    path = repo / ".agent" / "runs" / run_id / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _only_run(repo: Path) -> str:
    (run_id,) = [p.name for p in (repo / ".agent" / "runs").iterdir() if p.is_dir()]
    return run_id


@pytest.mark.parametrize("in_place", [False, True])
def test_a_start_the_model_refuses_leaves_no_branch_or_worktree_and_the_journal_says_why(tmp_path, cli, in_place):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.turns.pop("planner")
    script.defaults["planner"] = Turn(error=ErrorSpec(status=401, message="Wrong API key", type="invalid_request_error"))
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo), *(["--in-place"] if in_place else []))
    assert result.exit_code == 2, result.stderr  # a refused key is the user's to fix
    assert git(repo, "branch", "--list", "agent/*") == ""
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not list((repo / ".agent" / "worktrees").glob("*/"))
    run_id = _only_run(repo)
    finished = next(e for e in _events(repo, run_id) if e["type"] == "run_finished")
    assert finished["status"] == "error" and "refused the credentials (HTTP 401)" in finished["error"]
    assert any(e["type"] == "workspace_discarded" for e in _events(repo, run_id))
    listed = cli("runs", "--repo", str(repo)).stdout
    row = next(line for line in listed.splitlines() if line.split()[0] == run_id)
    assert row.split()[1:4] == ["error", "0/0", "-"]
    again = cli("resume", run_id, "--repo", str(repo))
    assert again.exit_code == 2 and "kept nothing; start the task again with agent run" in again.stderr


def test_an_undone_run_shows_as_undone(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        report = json.loads(cli(*run_args(server, repo)).stdout)
    assert cli("undo", report["run_id"], "--repo", str(repo)).exit_code == 0
    listed = cli("runs", "--repo", str(repo)).stdout
    row = next(line for line in listed.splitlines() if line.split()[0] == report["run_id"])
    assert row.split()[1:4] == ["undone", "2/2", "-"] and report["branch"] not in row
    shown = cli("show", report["run_id"], "--repo", str(repo))
    assert f"run {report['run_id']}: undone" in shown.stdout
    assert f"its branch {report['branch']} and worktree were deleted (agent undo)" in shown.stdout
    assert "take them" not in shown.stdout
    as_json = json.loads(cli("show", report["run_id"], "--repo", str(repo), "--json").stdout)
    assert as_json["workspace_state"] == "undone" and as_json["status"] == "succeeded"


def test_the_summary_ends_with_the_commands_that_take_the_changes(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        args = [a for a in run_args(server, repo) if a != "--json"]
        result = cli(*args, cwd=repo)
    assert result.exit_code == 0, result.stderr
    run_id = _only_run(repo)
    branch = git(repo, "branch", "--list", "agent/*", "--format=%(refname:short)").strip()
    tail = [line.strip() for line in result.stdout.strip().splitlines()[-4:]]
    assert tail == [f"see the changes:  agent show {run_id} --diff",
                    f"take them:        git merge --ff-only {branch}",
                    f"(or: agent apply-run {run_id})",
                    f"discard them:     agent undo {run_id}"]
    diff = cli("show", run_id, "--diff", cwd=repo)
    assert diff.exit_code == 0 and diff.stdout == git(repo, "diff", f"main..{branch}")
    assert "+    return (ordered[mid - 1] + ordered[mid]) / 2" in diff.stdout
    (repo / "README.md").write_text("my edit\n")
    refused = cli("apply-run", run_id, cwd=repo)
    assert refused.exit_code == 2 and "uncommitted changes (1, e.g. README.md)" in refused.stderr
    assert git(repo, "rev-parse", "main") != git(repo, "rev-parse", branch)
    git(repo, "checkout", "README.md")
    applied = cli("apply-run", run_id, cwd=repo)
    assert applied.exit_code == 0, applied.stderr
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", branch)  # fast-forwarded
    assert f"fast-forwarded main to include run {run_id}: 2 commit(s)" in applied.stdout
    assert "already in the checked-out branch" in cli("show", run_id, cwd=repo).stdout


def test_a_step_that_changes_nothing_is_approved_without_a_commit(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = scripted(plan_turn("Add a changelog", "Check the changelog"),
                      [write_turn("CHANGES.md", "- fixed\n"), finish_turn(), finish_turn("nothing to change")])
    with ScriptedServer(script) as server:
        result = cli("run", "changelog", "--repo", str(repo), "--base-url", server.base_url, "--test-cmd", "true",
                     "--yes")
        second_gate = [r.body["messages"][-1]["content"] for r in server.requests_for("reviewer")][1]
    assert result.exit_code == 0, result.stderr
    assert "✔ step 2 approved: Check the changelog (no changes, nothing committed)" in result.stdout
    assert "(no changes)" in second_gate  # the critics were told the step changed nothing
    report = json.loads((repo / ".agent" / "runs" / _only_run(repo) / "report.json").read_text())
    assert [s["status"] for s in report["steps"]] == ["approved", "approved"]
    assert report["steps"][1]["commit"] is None and report["head_commit"] == report["steps"][0]["commit"]
    assert git(repo, "log", "--format=%s", f"main..{report['branch']}").splitlines() == ["Add a changelog"]
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("2 "))
    assert row.rstrip().endswith("no changes")


def test_the_demo_prints_no_path_it_deletes(cli):
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    output = result.stdout + result.stderr
    assert "agent-demo-" not in output and ".agent/worktrees" not in output
    assert "the demo repository is deleted on exit; `agent demo --keep` keeps it" in output
