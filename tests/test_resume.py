"""Crash safety: a run killed mid-step, or interrupted with Ctrl-C, is finished by `agent resume`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.commands.run import _begin_journal
from agent.journal import Journal, read_events
from agent.testing import ScriptedServer
from agent.workspace import GitWorkspace
from conftest import git, make_repo
from run_helpers import demo_script, run_args

STEP2 = slice(7, None)  # the demo's executor turns for step 2


def _start(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "agent", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run to reach the point under test"
        time.sleep(0.05)


def _journal(repo: Path) -> Path:
    found = list((repo / ".agent" / "runs").glob("*/events.jsonl"))
    return found[0] if found else repo / "missing"


def _run_until_step_two(repo: Path, server: ScriptedServer) -> subprocess.Popen[str]:
    """Start a run whose step 2 hangs in its first model call, and wait until it is there."""
    proc = _start(run_args(server, repo))
    _wait_for(lambda: len(server.requests_for("executor")) >= 8)
    return proc


def _slow_step_two_script():
    script = demo_script()
    turns = script.turns["executor"]
    turns[7] = turns[7].model_copy(update={"delay_s": 60})
    return script


def _resume_script():
    script = demo_script()
    script.turns = {"executor": demo_script().turns["executor"][STEP2]}  # no planner turn: it must not be asked
    return script


def test_a_killed_run_resumes_without_redoing_approved_steps(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(_slow_step_two_script()) as server:
        proc = _run_until_step_two(repo, server)
        proc.kill()
        proc.communicate()
    events = list(read_events(_journal(repo)))
    run_id = events[0]["run_id"]
    first_commit = next(e["commit"] for e in events if e["type"] == "step_committed")
    assert events[-1]["type"] != "run_finished"

    with ScriptedServer(_resume_script()) as server:
        result = cli("resume", run_id, "--repo", str(repo), "--base-url", server.base_url, "--json")
        asked = [r.role for r in server.requests]
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert report["steps"][0]["commit"] == first_commit
    assert "planner" not in asked and asked.count("executor") == 3
    assert git(repo, "rev-list", "--count", f"{report['base_commit']}..{report['branch']}").strip() == "2"


def test_ctrl_c_exits_130_with_a_resumable_journal(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(_slow_step_two_script()) as server:
        proc = _run_until_step_two(repo, server)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "agent resume" in stderr and "Traceback" not in stderr
    events = list(read_events(_journal(repo)))
    assert events[-1]["type"] == "run_interrupted"
    report = json.loads((_journal(repo).parent / "report.json").read_text())
    assert report["status"] == "interrupted"
    with ScriptedServer(_resume_script()) as server:
        resumed = cli("resume", report["run_id"], "--repo", str(repo), "--base-url", server.base_url, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"


def _killed_while_planning(repo: Path) -> list[dict]:
    """The journal of a run killed in its first model call."""
    script = demo_script()
    script.turns["planner"][0] = script.turns["planner"][0].model_copy(update={"delay_s": 60})
    with ScriptedServer(script) as server:
        proc = _start(run_args(server, repo))
        _wait_for(lambda: len(server.requests_for("planner")) >= 1)
        proc.kill()
        proc.communicate()
    return list(read_events(_journal(repo)))


def test_a_run_killed_while_git_made_its_worktree_is_made_again_and_finished(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    started = _killed_while_planning(repo)[0]
    # What a kill inside `git worktree add` leaves: no branch yet, a folder without its .git.
    git(repo, "worktree", "remove", "--force", started["worktree"])
    git(repo, "branch", "-D", started["branch"])
    Path(started["worktree"]).mkdir(parents=True)
    (Path(started["worktree"]) / "half-written.py").write_text("x = 1\n")

    with ScriptedServer(demo_script()) as server:
        result = cli("resume", started["run_id"], "--repo", str(repo), "--base-url", server.base_url, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["branch"] == started["branch"]
    assert git(repo, "rev-list", "--count", f"{started['base_commit']}..{started['branch']}").strip() == "2"
    assert not (Path(started["worktree"]) / "half-written.py").exists()


def test_an_undone_run_is_not_resumed(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    started = _killed_while_planning(repo)[0]
    assert cli("undo", started["run_id"], "--repo", str(repo)).exit_code == 0
    resumed = cli("resume", started["run_id"], "--repo", str(repo), "--base-url", "http://127.0.0.1:9/v1")
    assert resumed.exit_code == 2 and "was undone" in resumed.stderr
    assert git(repo, "branch", "--list", started["branch"]) == ""


def test_a_run_cut_off_while_starting_leaves_no_run_behind(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")

    def killed(workspace):
        raise KeyboardInterrupt  # stands in for a kill before the first event is in place

    try:
        _begin_journal(repo, lambda run_id: GitWorkspace.planned(repo, run_id, "task"), killed, Journal)
    except KeyboardInterrupt:
        pass
    runs = repo / ".agent" / "runs"
    assert list(runs.iterdir()) == []  # no run folder, empty or not, and no staging folder either
    assert "no runs yet" in cli("runs", "--repo", str(repo)).stdout
    assert git(repo, "branch", "--list", "agent/*") == ""


def test_a_start_killed_outright_leaves_litter_the_next_start_clears(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    runs = repo / ".agent" / "runs"
    gone = subprocess.Popen(["true"])
    gone.wait()
    running = subprocess.Popen(["sleep", "30"])
    try:
        for pid in (gone.pid, running.pid):  # what SIGKILL leaves: the staging folder of a start
            (runs / f".starting-{pid}-x1y2z3").mkdir(parents=True)
            (runs / f".starting-{pid}-x1y2z3" / "events.jsonl").write_text('{"type": "run_started"')
        assert "no runs yet" in cli("runs", "--repo", str(repo)).stdout  # litter is never a run
        _, journal = _begin_journal(repo, lambda run_id: GitWorkspace.planned(repo, run_id, "task"),
                                    lambda workspace: {"task": "task"}, Journal)
        journal.close()
        # The dead start's folder is cleared; one whose process still runs may yet become a run.
        assert sorted(p.name for p in runs.iterdir()) == sorted([f".starting-{running.pid}-x1y2z3",
                                                                 journal.path.parent.name])
    finally:
        running.kill()
        running.wait()
