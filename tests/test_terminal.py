"""What a run shows: plain output never wrapped; at a terminal, a plan being drafted, a sign of
life while the model is waited on, and a plan panel that never lags behind the steps."""

from __future__ import annotations

import json

from agent.testing import ScriptedServer
from conftest import make_repo
from run_helpers import demo_script, run_args


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
