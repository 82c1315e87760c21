"""The qa critic's probe tests, through `agent run`: a probe runs on a scratch copy of the judged tree,
a failing probe blocks the step with its test as evidence and reaches the executor as a regression
test, a passing probe does not block, and no probe ever lands in the worktree or the user's checkout."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import Script, ScriptedServer, Turn
from conftest import git, make_repo
from run_helpers import CRITICS, executor_requests, executor_turn, finish_turn, plan_turn, run_args, verdict, write_turn

STATS = Path(__file__).parent.parent / "workspace_fixtures" / "calc_bug" / "calc" / "stats.py"
BUGGY = "return (ordered[mid] + ordered[mid + 1]) / 2"
# Passes the fixture's only even-length test ([4, 1, 3, 2]) and fails every other even length.
HALF_FIX = "return (ordered[1] + ordered[2]) / 2"
FIX = "return (ordered[mid - 1] + ordered[mid]) / 2"
PROBE_PATH = "tests/test_probe_median.py"
PROBE = "from calc import median\n\n\ndef test_median_of_six():\n    assert median([6, 1, 5, 2, 4, 3]) == 3.5\n"


def _stats(line: str) -> str:
    return STATS.read_text().replace(BUGGY, line)


def _probe_turn() -> Turn:
    return executor_turn("run_probe", path=PROBE_PATH, content=PROBE, args=[PROBE_PATH])


def _events(repo: Path, run_id: str) -> list[dict]:
    return [json.loads(line) for line in (repo / ".agent" / "runs" / run_id / "events.jsonl").read_text().splitlines()]


def test_a_failing_probe_blocks_the_step_and_reaches_the_executor_as_a_regression_test(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    scratch_parent = tmp_path / "tmp"
    scratch_parent.mkdir()
    script = Script(
        turns={"planner": [plan_turn("Fix the median")],
               "executor": [write_turn("calc/stats.py", _stats(HALF_FIX)), finish_turn("median fixed"),
                            write_turn("calc/stats.py", _stats(FIX)), finish_turn("median fixed for every length")],
               # qa probes at each gate; the first time it even approves: the failing probe decides.
               "qa": [_probe_turn(), verdict(), _probe_turn(), verdict()]},
        defaults={name: verdict() for name in CRITICS})
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median"), env={"TMPDIR": str(scratch_parent)}, timeout=240)
        revision = executor_requests(server)[2]["messages"][-1]["content"]
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["steps"][0]["attempts"] == 2

    # The executor's turn after the first gate holds the probe: its path, its code and why it failed.
    assert PROBE_PATH in revision and "assert median([6, 1, 5, 2, 4, 3]) == 3.5" in revision
    assert "test_median_of_six" in revision and "regression test" in revision

    events = _events(repo, report["run_id"])
    probes = [e for e in events if e["type"] == "qa_probe"]
    assert [(p["path"], p["proven"]) for p in probes] == [(PROBE_PATH, True), (PROBE_PATH, False)]
    assert probes[0]["failing"] == [f"{PROBE_PATH}::test_median_of_six ({PROBE_PATH}:5)"] and probes[0]["content"] == PROBE
    assert probes[1]["counts"]["passed"] == 1 and probes[1]["exit_code"] == 0
    first_gate = next(e for e in events if e["type"] == "gate")
    qa = first_gate["verdicts"]["qa"]
    assert first_gate["passed"] is False and qa["verdict"] == "request_changes"
    assert any(PROBE_PATH in (f.get("evidence") or f["message"]) and "3.5" in (f.get("evidence") or f["message"])
               for f in qa["findings"])

    # The probe never touched the worktree, the committed branch or the user's checkout; no scratch copy is left.
    assert not (Path(report["worktree"]) / PROBE_PATH).exists()
    assert PROBE_PATH not in git(repo, "ls-tree", "-r", "--name-only", report["branch"]).split()
    assert not (repo / PROBE_PATH).exists() and git(repo, "status", "--porcelain") == ""
    assert list(scratch_parent.glob("agent-qa-*")) == []


def test_a_probe_that_passes_does_not_block(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = Script(
        turns={"planner": [plan_turn("Fix the median")],
               "executor": [write_turn("calc/stats.py", _stats(FIX)), finish_turn("median fixed")],
               "qa": [_probe_turn(), verdict()]},
        defaults={name: verdict() for name in CRITICS})
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median"), timeout=240)
        qa_requests = server.requests_for("qa")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["steps"][0]["attempts"] == 1
    probe_answer = qa_requests[1].body["messages"][-1]["content"]
    assert "1 passed" in probe_answer and "did not prove a defect" in probe_answer
    # The qa critic was told how to probe: the tool, the test command and the layout.
    first = qa_requests[0].body
    assert "run_probe" in [t["function"]["name"] for t in first["tools"]]
    assert "tests/test_stats.py" in first["messages"][1]["content"]
    assert not (Path(report["worktree"]) / PROBE_PATH).exists()
