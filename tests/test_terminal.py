"""What a run shows: plain output never wrapped; at a terminal, a plan being drafted, a sign of
life while the model is waited on, and a plan panel that never lags behind the steps."""

from __future__ import annotations

import json
import re

from agent.testing import ScriptedServer
from conftest import make_repo
from run_helpers import TEST_CMD, demo_script, run_args, run_at_a_terminal

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _at_a_terminal(server: ScriptedServer, repo) -> str:
    """`agent run --yes` on a pseudo-terminal; the screen's text without its control sequences."""
    code, screen = run_at_a_terminal(["run", "fix the median", "--repo", str(repo), "--base-url", server.base_url,
                                      "--test-cmd", TEST_CMD, "--yes"])
    assert code == 0, screen
    return _ESCAPES.sub("", screen)


def test_output_that_is_not_a_terminal_is_never_wrapped(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    task = "fix the median of an even number of values and make every statistic reject empty input"
    narrow = {"COLUMNS": "40"}
    with ScriptedServer(demo_script()) as server:
        args = [a for a in run_args(server, repo, task) if a != "--json"]
        run = cli(*args, env=narrow)
    assert run.exit_code == 0, run.stderr
    report = json.loads(next((repo / ".agent" / "runs").glob("*/report.json")).read_text())
    lines = run.stdout.splitlines()
    assert any(line.startswith(f"branch {report['branch']} in worktree {report['worktree']}") for line in lines)
    assert any(line.strip().startswith("2  Test that every statistic rejects empty input  approved") for line in lines)
    assert any(line.startswith("tests: ") and line.rstrip().endswith("(12 passed, 0 failed)") for line in lines)
    listed = cli("runs", "--repo", str(repo), env=narrow).stdout.splitlines()
    assert len(listed) == 2  # the header and one row
    assert listed[1].split()[:4] == [report["run_id"], "succeeded", "2/2", report["branch"]]


def test_the_plan_is_drafted_under_a_spinner_that_names_the_planner_and_counts_seconds(tmp_path):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.turns["planner"][0] = script.turns["planner"][0].model_copy(update={"delay_s": 2.3})
    with ScriptedServer(script) as server:
        screen = _at_a_terminal(server, repo)
    assert "drafting the plan · waiting for planner · 0s" in screen
    assert "drafting the plan · waiting for planner · 2s" in screen  # the seconds go on while it waits
    assert '{"steps"' not in screen and '"acceptance"' not in screen  # the planner's JSON is not streamed
    assert "plan: 2 steps" in screen and "1. Fix median() for an even number of values" in screen
    assert "the critics are judging · waiting for" in screen  # the gate is waited on visibly too


def test_the_plan_panel_never_shows_an_approved_step_as_running(tmp_path):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        screen = _at_a_terminal(server, repo)
    approved_at = screen.index("✔ step 1 approved")
    before = re.findall(r"1\.\s+(\w+)\s+Fix median", screen[:approved_at])
    after = re.findall(r"1\.\s+(\w+)\s+Fix median", screen[approved_at:])
    assert "running" in before  # the panel was drawn while the step ran
    assert after and set(after) == {"approved"}
