"""Budgets: a run stops before a request could pass max_tokens_per_run or max_cost_usd, as
`budget_exhausted` (exit 1, resumable), and `agent resume` with a raised budget finishes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.journal import read_events
from agent.testing import ScriptedServer
from agent.testing.script import UsageOverride
from conftest import make_repo
from run_helpers import finish_turn, fix_median_turn, plan_turn, run_args, scripted
from test_batch_support import read_results, scripted_server, write_spec

SMALL = UsageOverride(prompt_tokens=10, completion_tokens=10, cached_tokens=0, reasoning_tokens=0)
BIG = UsageOverride(prompt_tokens=50_000, completion_tokens=10, cached_tokens=0, reasoning_tokens=0)
# Small answer budgets keep each request's most (prompt + max_completion_tokens) a few thousand tokens.
CONFIG = "".join(f"[roles.{role}]\nmax_completion_tokens = 500\n" for role in ("planner", "executor"))


def budget_script():
    """Two steps; step 1's finishing answer reports 50,000 prompt tokens, every other answer 20 tokens."""
    turns = [fix_median_turn(), finish_turn(), finish_turn()]
    turns = [t.model_copy(update={"usage": BIG if i == 1 else SMALL}) for i, t in enumerate(turns)]
    return scripted(plan_turn("Fix the median", "Say nothing more").model_copy(update={"usage": SMALL}), turns)


def journal(repo: Path, run_id: str) -> list[dict]:
    return list(read_events(repo / ".agent" / "runs" / run_id / "events.jsonl"))


@pytest.mark.parametrize("limit, raised", [(("--max-tokens-per-run", "52000"), ("--max-tokens-per-run", "200000")),
                                           (("--max-cost-usd", "0.115"), ("--max-cost-usd", "1"))])
def test_a_run_stops_at_its_budget_and_resume_with_a_raised_budget_finishes_it(tmp_path: Path, cli, limit,
                                                                                raised) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text(CONFIG)
    with ScriptedServer(budget_script()) as server:
        stopped = cli(*run_args(server, repo, "fix the median", "--no-critics", *limit))
        sent_before = len(server.requests_for("executor"))
        report = json.loads(stopped.stdout)
        resumed = cli("resume", report["run_id"], "--repo", str(repo), "--json", *raised)
        sent_after = len(server.requests_for("executor"))
    assert stopped.exit_code == 1, stopped.stderr
    assert report["status"] == "budget_exhausted"
    assert [s["status"] for s in report["steps"]] == ["approved", "pending"]  # step 1 committed, step 2 never asked
    assert sent_before == 2  # step 2's request was checked and not sent
    assert f"agent resume {report['run_id']} {limit[0]}" in report["error"] and "--repo" in report["error"]
    exhausted = [e for e in journal(repo, report["run_id"]) if e["type"] == "budget_exhausted"]
    assert len(exhausted) == 1 and exhausted[0]["role"] == "executor" and exhausted[0]["step"] == "step-2"
    assert resumed.exit_code == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["status"] == "succeeded" and [s["status"] for s in final["steps"]] == ["approved", "approved"]
    assert sent_after == 3  # only step 2 was asked again
    shown = cli("runs", "--repo", str(repo)).stdout
    assert "succeeded" in shown


def test_a_budget_too_small_for_the_plan_stops_before_any_request(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(budget_script()) as server:
        result = cli(*run_args(server, repo, "fix the median", "--max-tokens-per-run", "1000"))
        sent = server.requests_for("planner")
    assert result.exit_code == 1 and not sent
    report = json.loads(result.stdout)
    assert report["status"] == "budget_exhausted" and "max_tokens_per_run 1,000" in report["error"]
    listed = cli("runs", "--repo", str(repo))
    assert "budget_exhausted" in listed.stdout
    shown = cli("show", report["run_id"], "--repo", str(repo))
    assert "budget_exhausted" in shown.stdout and "agent resume" in shown.stdout


def test_a_cost_limit_needs_a_price_for_every_model(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text('[roles.planner]\nmodel = "unpriced-model"\n')
    result = cli("run", "fix it", "--repo", str(repo), "--base-url", "http://127.0.0.1:9/v1", "--max-cost-usd", "1")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "agent: max_cost_usd (flag --max-cost-usd): no price for model 'unpriced-model' (role planner); "
        "add [prices.\"unpriced-model\"] input = … output = … (US dollars per million tokens) to .agent.toml"]
    assert not (repo / ".agent" / "runs").exists() or not any((repo / ".agent" / "runs").iterdir())


def test_a_batch_spec_sets_each_target_s_budget(tmp_path: Path, cli) -> None:
    make_repo(tmp_path / "calc", "calc_bug")
    with scripted_server() as server:
        spec = write_spec(tmp_path / "batch.yaml", server, "  - repo: calc\n    vars: {path: calc/stats.py}\n",
                          max_tokens_per_run=1000)
        result = cli("batch", str(spec), "--results", str(tmp_path / "out.jsonl"))
        asked = server.requests_for("planner")
    assert result.exit_code == 1, result.stderr + result.stdout
    [line] = read_results(tmp_path / "out.jsonl")
    assert line["status"] == "budget_exhausted" and "max_tokens_per_run" in line["error"] and not asked
    assert "budget_exhausted" in (tmp_path / "out.md").read_text()
