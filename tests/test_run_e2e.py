"""`agent run` end to end: the real CLI, the scripted model over HTTP, a real fixture repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agent.testing import ScriptedServer, ToolCallSpec, Turn
from conftest import git, make_repo
from run_helpers import CRITICS, calc_finding, demo_script, executor_requests, run_args, verdict


def _snapshot(repo: Path) -> dict[str, object]:
    files = {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*")
             if p.is_file() and ".git" not in p.parts and ".agent" not in p.parts}
    return {"files": files, "status": git(repo, "status", "--porcelain"), "branch": git(repo, "branch", "--show-current"),
            "index": git(repo, "diff", "--cached")}


def test_success_commits_each_step_and_leaves_the_user_tree_alone(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / "notes.txt").write_text("my uncommitted work\n")  # untracked user file
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nlocal edit\n")  # unstaged change
    before = _snapshot(repo)
    with ScriptedServer(demo_script()) as server:
        result = cli(*run_args(server, repo))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert [s["status"] for s in report["steps"]] == ["approved", "approved"]
    assert [s["attempts"] for s in report["steps"]] == [2, 1]  # qa asked for one revision of step 1
    assert report["tests"]["exit_code"] == 0 and report["tests"]["failed"] in (0, None)
    assert report["tests"]["passed"] == 12
    assert set(report["steps"][0]["verdicts"]) == set(CRITICS)
    log = git(repo, "log", "--format=%s%n%(trailers)", f"{report['base_commit']}..{report['branch']}")
    assert "Fix median() for an even number of values" in log and "Qa: approve" in log
    assert f"Agent-Run: {report['run_id']}" in log
    worktree = Path(report["worktree"])
    assert "ordered[mid - 1] + ordered[mid]" in (worktree / "calc/stats.py").read_text()
    assert _snapshot(repo) == before
    assert report["usage"]["by_role"]["executor"]["requests"] == 10


def test_reasoning_goes_back_and_each_request_extends_the_last(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        assert cli(*run_args(server, repo)).exit_code == 0
        bodies = executor_requests(server)
        roles = {r.headers.get("x-agent-role") for r in server.requests}
    assert roles == {"planner", "executor", *CRITICS}
    first_step = bodies[:7]  # step 1: four turns, then three after the revision request
    for earlier, later in zip(first_step, first_step[1:]):
        assert later["messages"][: len(earlier["messages"])] == earlier["messages"]
    assistant = [m for m in first_step[-1]["messages"] if m["role"] == "assistant"]
    # Cerebras' carrier: GLM's raw `<think>` block at the start of content (no `reasoning` field).
    assert assistant[0]["content"] == "<think>Start by reading median() in calc/stats.py.</think>Reading calc/stats.py."
    assert not any("reasoning" in m for m in assistant)
    assert all(b.get("clear_thinking") is False for b in bodies)
    revision = [m for m in first_step[4]["messages"] if m["role"] == "user"][-1]["content"]
    assert "test_median_two_values" in revision and "qa" in revision


def test_critics_judge_at_the_same_time(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.turns.pop("qa")
    for name in CRITICS:
        script.defaults[name] = verdict().model_copy(update={"delay_s": 0.4})
    script.turns["executor"] = script.turns["executor"][:4] + script.turns["executor"][7:]
    with ScriptedServer(script) as server:
        assert cli(*run_args(server, repo)).exit_code == 0
        first_gate = [r for r in server.requests if r.role in CRITICS][:4]
    assert max(r.started for r in first_gate) < min(r.ended for r in first_gate)


def test_a_step_is_blocked_when_revisions_run_out(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    finding = calc_finding("still wrong")
    script.turns.pop("qa")
    script.defaults["qa"] = verdict("request_changes", finding)
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median", "--max-revisions", "1"))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "blocked"
    assert [s["status"] for s in report["steps"]] == ["blocked", "skipped"]
    assert report["steps"][0]["attempts"] == 2 and report["steps"][0]["commit"] is None


def test_a_planner_that_never_answers_json_is_a_clear_error(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.turns["planner"] = [Turn(content="I would fix the median."), Turn(content="Sure, here is my plan: fix it.")]
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo))
        planner_calls = len(server.requests_for("planner"))
    assert result.exit_code == 3
    assert planner_calls == 2  # one repair request, then give up
    assert "planner did not return a valid plan" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["status"] == "error"


def test_runs_show_and_undo(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        report = json.loads(cli(*run_args(server, repo)).stdout)
    listing = cli("runs", "--repo", str(repo))
    assert report["run_id"] in listing.stdout and "succeeded" in listing.stdout
    narrow = cli("runs", "--repo", str(repo), env={"COLUMNS": "60"})
    assert report["run_id"] in narrow.stdout  # the id users copy is never cut short
    shown = json.loads(cli("show", report["run_id"], "--repo", str(repo), "--json").stdout)
    assert shown == report
    assert cli("undo", report["run_id"], "--repo", str(repo)).exit_code == 0
    assert not Path(report["worktree"]).exists()
    branches = subprocess.run(["git", "branch", "--list", report["branch"]], cwd=repo, capture_output=True, text=True)
    assert branches.stdout.strip() == ""


def test_bad_input_is_one_line(tmp_path, cli):
    assert "not a git repository" in cli("run", "x", "--repo", str(tmp_path)).stderr.lower()
    repo = make_repo(tmp_path / "r")
    empty = cli("run", "   ", "--repo", str(repo))
    assert empty.exit_code == 2 and "task is empty" in empty.stderr and "Traceback" not in empty.stderr
    missing_key = cli("run", "do it", "--repo", str(repo))
    assert missing_key.exit_code == 2 and "CEREBRAS_API_KEY" in missing_key.stderr


def test_in_place_refuses_a_dirty_tree_and_leaves_no_trace(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / "calc" / "stats.py").write_text("# my unsaved work\n")
    result = cli("run", "fix it", "--repo", str(repo), "--in-place", "--base-url", "http://127.0.0.1:9/v1", "--yes")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (repo / "calc" / "stats.py").read_text() == "# my unsaved work\n"
    assert not list((repo / ".agent" / "runs").glob("*"))
    assert git(repo, "branch", "--list", "agent/*").strip() == ""


def test_a_custom_critic_persona_judges_the_step(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    persona = repo / ".agent" / "critics" / "docs.md"
    persona.parent.mkdir(parents=True)
    persona.write_text("You are a senior technical writer. You judge docstrings and comments.\n")
    script = demo_script()
    script.turns.pop("qa")
    script.turns["executor"] = script.turns["executor"][:4] + script.turns["executor"][7:]
    script.defaults["docs"] = verdict()
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median", "--critics", "docs,security"))
        docs = server.requests_for("docs")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["steps"][0]["verdicts"]) == {"docs", "security"}
    system = docs[0].body["messages"][0]["content"]
    assert system.startswith("RULES (all REQUIRED") and "You are a senior technical writer" in system
    # Without front matter a persona gets the context tools, the same ones the built-ins read with.
    assert [t["function"]["name"] for t in docs[0].body["tools"]] == ["read_file", "list_files", "search"]
    assert "Docs: approve" in git(repo, "log", "-1", "--format=%(trailers)", report["branch"])


def test_a_run_id_is_a_name_not_a_path(tmp_path, cli):
    repo = make_repo(tmp_path / "r")
    for command in ("show", "resume", "undo"):
        result = cli(command, "../../elsewhere", "--repo", str(repo))
        assert result.exit_code == 2 and "invalid run id" in result.stderr and "Traceback" not in result.stderr


def _test_runs(repo: Path, report: dict) -> list[dict]:
    journal = repo / ".agent" / "runs" / report["run_id"] / "events.jsonl"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    return [e for e in events if e["type"] == "tool_call" and e["name"] == "run_tests"] + \
        [e for e in events if e["type"] == "tests"]


def test_the_whole_suite_is_not_run_twice_on_the_same_tree(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        result = cli(*run_args(server, repo))
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["tests"]["passed"] == 12
    *runs, final = _test_runs(repo, report)
    # Step 2's last whole-suite run tested exactly the tree of the last commit: that result stands.
    assert [r["step"] for r in runs] == ["step-1", "step-1", "step-2"] and final["reused"] is True


def test_the_suite_runs_once_more_when_the_last_run_was_a_subset(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    subset = script.turns["executor"][8].tool_calls[0].model_copy(update={"arguments": {"args": ["tests/test_stats.py"]}})
    script.turns["executor"][8] = script.turns["executor"][8].model_copy(update={"tool_calls": [subset]})
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo))
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["tests"]["passed"] == 12
    *runs, final = _test_runs(repo, report)
    assert [r["step"] for r in runs] == ["step-1", "step-1", "step-2", "final"] and final["reused"] is False


def test_a_step_commits_the_tree_its_critics_judged(tmp_path, cli):
    """A file a critic's own test run leaves behind was never judged: it is not committed."""
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    report_call = ToolCallSpec(name="run_tests", arguments={"args": ["--junitxml=qa-report.xml"]})
    # QA: changes asked for step 1, then approves it; on step 2 it runs the tests with a report first.
    script.turns["qa"] += [verdict(), Turn(tool_calls=[report_call]), verdict()]
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo))
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    worktree = Path(report["worktree"])
    assert (worktree / "qa-report.xml").is_file()  # the critic's run did write it
    committed = git(repo, "log", "--name-only", "--format=", f"{report['base_commit']}..{report['branch']}")
    assert "qa-report.xml" not in committed
    assert git(worktree, "status", "--porcelain") == "?? qa-report.xml\n"  # the index is the commit's
