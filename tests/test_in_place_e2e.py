"""`--in-place` in a checkout with the user's untracked files: they do not block the run, and the run
leaves them alone through its run, a resume and an undo. Through the CLI on real repositories."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from agent.testing import ScriptedServer
from conftest import git, make_repo
from run_helpers import demo_script, executor_turn, finish_turn, plan_turn, run_args, scripted, write_turn
from test_resume import _journal
from test_run_ownership import _resume, _stopped_in_step_two
from tools.sandbox import detect_sandbox

NOTES = b"my scratch notes \xe2\x80\x94 not the agent's\r\nsecond line without newline"
IDEA = b"print('an idea of mine')\n"


def _with_user_files(repo: Path) -> None:
    (repo / "notes.txt").write_bytes(NOTES)
    (repo / "scratch").mkdir()
    (repo / "scratch" / "idea.py").write_bytes(IDEA)


def _user_files_intact(repo: Path) -> None:
    assert (repo / "notes.txt").read_bytes() == NOTES
    assert (repo / "scratch" / "idea.py").read_bytes() == IDEA
    assert sorted(p.name for p in (repo / "scratch").iterdir()) == ["idea.py"]


def _committed_paths(repo: Path, report: dict) -> set[str]:
    out = git(repo, "log", "--format=", "--name-only", f"{report['base_commit']}..{report['branch']}")
    return {line for line in out.splitlines() if line}


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_untracked_user_files_survive_an_in_place_run_its_resume_and_its_undo(tmp_path, cli, how):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    _with_user_files(repo)

    run_id = _stopped_in_step_two(repo, how, "--in-place")
    _user_files_intact(repo)
    resumed = _resume(cli, repo, run_id)

    assert resumed.exit_code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["status"] == "succeeded"
    _user_files_intact(repo)
    committed = _committed_paths(repo, report)
    assert committed == {"calc/stats.py", "tests/test_stats.py"}
    # In place, resume keeps the interrupted step's partial work in a stash: the run's files only.
    stashed = git(repo, "stash", "show", "--include-untracked", "--name-only", "stash@{0}").split()
    assert stashed == ["tests/test_stats.py"]
    assert "notes.txt" not in resumed.stderr and "scratch" not in resumed.stderr

    git(repo, "checkout", "-q", "main")
    undone = cli("undo", run_id, "--repo", str(repo))
    assert undone.exit_code == 0, undone.stderr
    assert f"deleted branch {report['branch']}" in undone.stdout
    assert git(repo, "branch", "--list", "agent/*") == ""
    _user_files_intact(repo)
    assert git(repo, "status", "--porcelain") == "?? notes.txt\n?? scratch/\n"


def test_the_run_neither_reads_writes_lists_nor_commits_the_users_untracked_files(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    _with_user_files(repo)
    fix = demo_script().turns["executor"][1]  # the demo's fix of median()
    turns = [
        executor_turn("read_file", path="notes.txt"),
        write_turn("notes.txt", "overwritten by the model\n"),
        executor_turn("write_patch", patch="*** Begin Patch\n*** Delete File: scratch/idea.py\n*** End Patch\n"),
        write_turn("notes.txt/inside.py", "x = 1\n"),
        executor_turn("list_files"),
        executor_turn("search", pattern="scratch notes|an idea of mine"),
        fix,
        finish_turn("fixed median"),
    ]
    with ScriptedServer(scripted(plan_turn("Fix median"), turns)) as server:
        result = cli(*run_args(server, repo, "fix the median", "--in-place"))
        critics_saw = [json.dumps(r.body) for r in server.requests_for("reviewer")]
        planner_saw = json.dumps(server.requests_for("planner")[0].body)

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    calls = [e for e in map(json.loads, _journal(repo).read_text().splitlines()) if e["type"] == "tool_call"]
    read, write, delete, below, listing, search = calls[:6]
    for refused in (read, write, delete, below):
        assert refused["is_error"] and "an untracked file of the user's" in refused["result"], refused
    assert "notes.txt" not in listing["result"] and "scratch/" not in listing["result"]
    assert "calc/stats.py" in listing["result"]
    assert search["result"].startswith("No matches")
    assert "notes.txt" not in planner_saw and "scratch/idea.py" not in planner_saw
    assert critics_saw and not any("notes.txt" in text or "idea.py" in text for text in critics_saw)
    assert _committed_paths(repo, report) == {"calc/stats.py"}
    _user_files_intact(repo)


@pytest.mark.skipif(not detect_sandbox().available, reason="bubblewrap cannot run here")
def test_test_runs_in_place_cannot_read_or_change_the_users_untracked_files(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    _with_user_files(repo)
    probe = ("from pathlib import Path\n\nROOT = Path(__file__).resolve().parent.parent\n\n\n"
             "def test_the_users_files_are_out_of_reach():\n"
             "    notes = ROOT / 'notes.txt'\n"
             "    try:\n"
             "        seen = notes.read_bytes()\n"
             "    except OSError:  # a hidden file cannot be opened\n"
             "        seen = b''\n"
             "    assert seen == b''\n"
             "    assert list((ROOT / 'scratch').iterdir()) == []\n"
             "    for attempt in (lambda: notes.write_text('changed by a test'), notes.unlink):\n"
             "        try:\n"
             "            attempt()\n"
             "        except OSError:\n"
             "            pass\n")
    fix = demo_script().turns["executor"][1]
    turns = [fix, write_turn("tests/test_probe.py", probe), executor_turn("run_tests"), finish_turn()]
    with ScriptedServer(scripted(plan_turn("Fix median"), turns)) as server:
        result = cli(*run_args(server, repo, "fix the median", "--in-place"))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["tests"]["failed"] == 0 and report["tests"]["passed"] >= 1
    _user_files_intact(repo)


def test_modified_or_staged_tracked_files_still_block_in_place_and_are_named(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    _with_user_files(repo)
    (repo / "calc" / "stats.py").write_text("# my unsaved work\n")
    (repo / "README.md").write_text("staged edit\n")
    git(repo, "add", "README.md")
    result = cli("run", "fix it", "--repo", str(repo), "--in-place", "--base-url", "http://127.0.0.1:9/v1", "--yes")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "README.md (staged)" in result.stderr and "calc/stats.py (modified)" in result.stderr
    assert "notes.txt" not in result.stderr and "scratch" not in result.stderr
    assert (repo / "calc" / "stats.py").read_text() == "# my unsaved work\n"
    _user_files_intact(repo)
    assert not list((repo / ".agent" / "runs").glob("*"))
