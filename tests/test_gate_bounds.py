"""Bounds a model cannot talk its way past: the verdict a critic actually gave, a critic that never
answers, and a turn with more tool calls than the step's budget. Each through `agent run`."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from conftest import git, make_repo
from run_helpers import CRITICS, run_args, verdict

PLAN = Turn(content=json.dumps({"steps": [{"title": "Add notes", "description": "Write notes.txt.",
                                           "acceptance": "notes.txt exists."}]}))


def _one_step_script(*executor: Turn) -> Script:
    """A one-step plan; the executor's turns as given; every critic approves unless told otherwise."""
    return Script(turns={"planner": [PLAN], "executor": list(executor)},
                  defaults={name: verdict() for name in CRITICS})


def _write_and_finish() -> list[Turn]:
    return [Turn(tool_calls=[ToolCallSpec(name="write_file", arguments={"path": "notes.txt", "content": "hello\n"})]),
            Turn(tool_calls=[ToolCallSpec(name="finish_step", arguments={"summary": "notes.txt written"})])]


def _events(repo: Path, report: dict) -> list[dict]:
    journal = repo / ".agent" / "runs" / report["run_id"] / "events.jsonl"
    return [json.loads(line) for line in journal.read_text().splitlines()]


def _commits(repo: Path, report: dict) -> int:
    return int(git(repo, "rev-list", "--count", f"{report['base_commit']}..{report['branch']}").strip())


def test_a_critic_that_quotes_the_approve_format_then_asks_for_changes_blocks_the_step(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = _one_step_script(*_write_and_finish())
    finding = {"severity": "high", "message": "notes.txt says nothing useful", "file": "notes.txt", "line": 1,
               "evidence": "hello", "suggestion": None}
    script.defaults["security"] = Turn(content=(
        'The format is {"verdict": "approve", "findings": []} when all is well. Here it is not: '
        + json.dumps({"verdict": "request_changes", "findings": [finding]})))
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "write notes", "--max-revisions", "0"))
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "blocked" and report["steps"][0]["status"] == "blocked"
    security = report["steps"][0]["verdicts"]["security"]
    assert security["verdict"] == "request_changes" and security["findings"][0]["message"] == finding["message"]
    assert _commits(repo, report) == 0


def test_a_critic_that_keeps_calling_tools_passes_its_budget_and_the_gate_fails_closed(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text("critic_tool_calls = 3\n")
    script = _one_step_script(*_write_and_finish())
    script.defaults["qa"] = Turn(tool_calls=[ToolCallSpec(name="run_tests", arguments={})])
    script.defaults["reviewer"] = Turn(tool_calls=[ToolCallSpec(name="read_file", arguments={"path": "notes.txt"})])
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "write notes", "--max-revisions", "0"), timeout=60)
        asked = {name: len(server.requests_for(name)) for name in ("qa", "reviewer")}
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "blocked" and _commits(repo, report) == 0
    assert asked == {"qa": 4, "reviewer": 4}  # three calls within the budget, the fourth passes it
    for name in ("qa", "reviewer"):
        verdict_ = report["steps"][0]["verdicts"][name]
        assert verdict_["verdict"] == "request_changes"
        assert "passed its tool budget: it asked for more than its budget of 3 tool calls" in verdict_["findings"][0]["message"]
    # qa ran the tests twice, no more: its third run_tests was refused unrun.
    critic_runs = [e for e in _events(repo, report) if e["type"] == "tool_call" and e["step"] == "step-1"
                   and e["name"] == "run_tests"]
    assert len(critic_runs) == 1 + 2  # the gate's own run, then qa's two
    reads = [e for e in _events(repo, report) if e["type"] == "critic_tool_call" and e["critic"] == "reviewer"]
    assert len(reads) == 3 and all(e["name"] == "read_file" and not e["is_error"] for e in reads)


def test_tool_calls_past_the_budget_in_one_turn_are_refused_unrun(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    writes = [ToolCallSpec(name="write_file", arguments={"path": f"notes/{i:02d}.txt", "content": f"{i}\n"})
              for i in range(60)]
    script = _one_step_script(Turn(tool_calls=writes))
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "write notes"))
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "blocked"
    worktree = Path(report["worktree"])
    assert sorted(p.name for p in (worktree / "notes").iterdir()) == [f"{i:02d}.txt" for i in range(40)]
    ran = [e for e in _events(repo, report) if e["type"] == "tool_call" and e["step"] == "step-1"]
    assert len(ran) == 40
    blocked = next(e for e in _events(repo, report) if e["type"] == "step_blocked")
    assert "budget of 40 tool calls" in blocked["reason"]


def test_an_executor_that_mostly_talks_is_stopped_at_its_turn_budget(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text("max_tool_calls = 3\n")  # so twice that: 6 turns
    talk = Turn(content="Let me think about this some more.")
    reads = [Turn(tool_calls=[ToolCallSpec(name="read_file", arguments={"path": "calc/stats.py", "start_line": i})])
             for i in range(1, 4)]
    script = _one_step_script(*(turn for read in reads for turn in (talk, talk, read)))
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "write notes"))
        asked = len(server.requests_for("executor"))
    assert result.exit_code == 1, result.stderr
    blocked = next(e for e in _events(repo, json.loads(result.stdout)) if e["type"] == "step_blocked")
    assert blocked["reason"] == "the step used its budget of 6 model turns" and asked == 6
