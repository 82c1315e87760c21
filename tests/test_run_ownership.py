"""A run belongs to one process at a time, resume never destroys what it did not write, and a torn
journal line swallows nothing. Each through the CLI on real repositories and real processes."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from agent.journal import read_events
from agent.testing import ScriptedServer
from conftest import git, make_repo
from run_helpers import demo_script, run_args
from test_batch_support import make_repos, scripted_server, write_spec
from test_resume import _journal, _resume_script, _slow_step_two_script, _start, _wait_for

USER_EDIT = "# the user's own edit, made after the run stopped\n"


def _hang_at(turn: int):
    """The demo, its executor's `turn` (0-based) answered only after a minute."""
    script = demo_script()
    turns = script.turns["executor"]
    turns[turn] = turns[turn].model_copy(update={"delay_s": 60})
    return script


def _stopped_in_step_two(repo: Path, how: signal.Signals, *extra: str) -> str:
    """Run the demo until step 2 has written its test file and waits on the model; stop it; its run id."""
    with ScriptedServer(_hang_at(8)) as server:
        proc = _start(run_args(server, repo, "fix the median", *extra))
        _wait_for(lambda: len(server.requests_for("executor")) >= 9)
        proc.send_signal(how)
        proc.communicate(timeout=30)
    return next(read_events(_journal(repo)))["run_id"]


def _resume(cli, repo: Path, run_id: str):
    with ScriptedServer(_resume_script()) as server:
        return cli("resume", run_id, "--repo", str(repo), "--base-url", server.base_url, "--json")


def _user_changes(repo: Path) -> None:
    (repo / "notes.txt").write_text("my notes, not the agent's\n")
    (repo / "calc" / "stats.py").write_text((repo / "calc" / "stats.py").read_text() + USER_EDIT)


def test_resume_refuses_to_discard_changes_made_in_place_after_the_run_stopped(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    run_id = _stopped_in_step_two(repo, signal.SIGINT, "--in-place")
    _user_changes(repo)

    refused = _resume(cli, repo, run_id)
    assert refused.exit_code == 2, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert "changed since the run stopped" in refused.stderr
    assert "modified calc/stats.py" in refused.stderr and "added notes.txt" in refused.stderr
    assert "tests/test_stats.py" not in refused.stderr  # the run's own partial work is not the user's
    assert (repo / "notes.txt").is_file() and (repo / "calc" / "stats.py").read_text().endswith(USER_EDIT)

    git(repo, "stash", "--include-untracked")  # what the message says to do
    resumed = _resume(cli, repo, run_id)
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    git(repo, "checkout", "-q", "main")
    git(repo, "stash", "pop")
    assert (repo / "notes.txt").is_file() and (repo / "calc" / "stats.py").read_text().endswith(USER_EDIT)


def test_resume_after_a_kill_stashes_what_it_cannot_tell_apart_and_says_so(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    run_id = _stopped_in_step_two(repo, signal.SIGKILL, "--in-place")
    _user_changes(repo)

    resumed = _resume(cli, repo, run_id)
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    assert "saved the uncommitted changes" in resumed.stderr and "git stash" in resumed.stderr
    assert "added notes.txt" in resumed.stderr and "modified calc/stats.py" in resumed.stderr
    assert git(repo, "show", "stash@{0}^3:notes.txt") == "my notes, not the agent's\n"
    assert git(repo, "show", "stash@{0}:calc/stats.py").endswith(USER_EDIT)


def test_resume_drops_only_the_runs_own_partial_work_in_its_worktree(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    run_id = _stopped_in_step_two(repo, signal.SIGINT)
    resumed = _resume(cli, repo, run_id)
    assert resumed.exit_code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["status"] == "succeeded"
    assert git(repo, "rev-list", "--count", f"{report['base_commit']}..{report['branch']}").strip() == "2"
    assert git(repo, "stash", "list") == "" and "stash" not in resumed.stderr


def test_a_run_is_owned_by_one_process_and_a_killed_owner_frees_it(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(_slow_step_two_script()) as server:
        proc = _start(run_args(server, repo))
        _wait_for(lambda: len(server.requests_for("executor")) >= 8)
        run_id = next(read_events(_journal(repo)))["run_id"]
        journal = _journal(repo).read_bytes()
        for command in (["resume", run_id, "--base-url", server.base_url], ["undo", run_id]):
            busy = cli(*command, "--repo", str(repo))
            assert busy.exit_code == 2, busy.stderr
            assert busy.stderr.strip() == (f"agent: run {run_id} is in use by another agent process (pid {proc.pid}); "
                                           "wait for it to end (or stop it), then try again")
        assert _journal(repo).read_bytes() == journal  # refused before anything was read, reset or written
        proc.kill()  # the kernel drops the lock with its owner
        proc.communicate()

    with ScriptedServer(_hang_at(7)) as server:  # a first resume, waiting on the model in step 2
        first = _start(["resume", run_id, "--repo", str(repo), "--base-url", server.base_url])
        _wait_for(lambda: len(server.requests_for("executor")) >= 1)
        second = cli("resume", run_id, "--repo", str(repo), "--base-url", server.base_url)
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert second.exit_code == 2 and f"(pid {first.pid})" in second.stderr
    resumed = _resume(cli, repo, run_id)
    assert resumed.exit_code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert git(repo, "rev-list", "--count", f"{report['base_commit']}..{report['branch']}").strip() == "2"


def test_a_second_batch_on_the_same_results_is_refused(tmp_path, cli):
    make_repos(tmp_path)
    results = tmp_path / "out.jsonl"
    with scripted_server(delay_s=60) as server:
        spec = write_spec(tmp_path / "batch.yaml", server, "  - repo: calc\n    vars: {path: calc/stats.py}\n")
        first = _start(["batch", str(spec), "--results", str(results)])
        _wait_for(lambda: len(server.requests_for("planner")) >= 1)
        second = cli("batch", str(spec), "--results", str(results), "--resume")
        first.kill()
        first.communicate()
        asked = len(server.requests_for("planner"))
    assert second.exit_code == 2, second.stderr
    assert second.stderr.strip() == (f"agent: the batch results file {results} is in use by another agent process; "
                                     "wait for it to end (or stop it), then try again")
    assert asked == 1


def test_an_event_appended_after_a_torn_line_is_kept_and_the_fragment_named(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    run_id = _stopped_in_step_two(repo, signal.SIGKILL)
    journal = _journal(repo)
    lines_before = len(journal.read_text().splitlines())
    with journal.open("a") as handle:  # what a crash mid-write leaves
        handle.write('{"type": "model_call", "role": "executor", "content": "half an ev')

    resumed = _resume(cli, repo, run_id)
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    torn = f"{journal}, line {lines_before + 1}: skipped a torn line"
    assert resumed.stderr.count(torn) == 1  # named once, however often the journal is read
    events = list(read_events(journal))
    assert [e["type"] for e in events].count("run_resumed") == 1
    assert events[-1]["type"] == "run_finished"
    shown = cli("show", run_id, "--repo", str(repo), "--json")
    assert shown.exit_code == 0 and shown.stderr.count(torn) == 1
    assert json.loads(shown.stdout)["status"] == "succeeded"

