"""What a run cost: every model call priced by its model's entry in the price table, summed by role
and by step in the report and the summary."""

from __future__ import annotations

import json
from pathlib import Path

from agent.journal import read_events
from agent.testing import ScriptedServer
from agent.testing.script import UsageOverride
from conftest import make_repo
from run_helpers import finish_turn, fix_median_turn, plan_turn, run_args, scripted

PLAN_USAGE = UsageOverride(prompt_tokens=400_000, completion_tokens=100_000, cached_tokens=200_000)


def priced_run(tmp_path: Path, cli, config: str = "") -> tuple[dict, list[dict], Path]:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    if config:
        (repo / ".agent.toml").write_text(config)
    planner = plan_turn("Fix the median").model_copy(update={"usage": PLAN_USAGE})
    with ScriptedServer(scripted(planner, [fix_median_turn(), finish_turn()])) as server:
        result = cli(*run_args(server, repo))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    calls = [e for e in read_events(repo / ".agent" / "runs" / report["run_id"] / "events.jsonl")
             if e["type"] == "model_call"]
    return report, calls, repo


def test_cost_follows_cerebras_price_for_glm_4_7_by_default(tmp_path: Path, cli) -> None:
    report, calls, _ = priced_run(tmp_path, cli)
    # $2.25 per million prompt tokens, $2.75 per million completion tokens, cached ones at full price.
    assert report["usage"]["by_role"]["planner"]["cost_usd"] == 1.175
    assert report["usage"]["by_step"]["plan"]["cost_usd"] == 1.175
    for call in calls:
        u = call["usage"]
        assert call["model"] == "zai-glm-4.7"
        assert call["cost_usd"] == round((u["prompt_tokens"] * 2.25 + u["completion_tokens"] * 2.75) / 1e6, 8)
    assert report["usage"]["total"]["cost_usd"] == round(sum(c["cost_usd"] for c in calls), 8)


def test_a_configured_price_table_sets_the_cost_by_role_and_step(tmp_path: Path, cli) -> None:
    config = '[prices."zai-glm-4.7"]\ninput = 1.0\noutput = 10.0\ncached_input = 0.5\n'
    report, calls, repo = priced_run(tmp_path, cli, config)
    usage = report["usage"]
    assert usage["by_role"]["planner"]["cost_usd"] == 1.3  # 200k at 1.0, 200k cached at 0.5, 100k out at 10.0
    executor = [c for c in calls if c["role"] == "executor"]
    expected = sum((c["usage"]["prompt_tokens"] - c["usage"]["cached_tokens"]) * 1.0 + c["usage"]["cached_tokens"] * 0.5
                   + c["usage"]["completion_tokens"] * 10.0 for c in executor) / 1e6
    assert abs(usage["by_role"]["executor"]["cost_usd"] - expected) < 1e-6
    step = usage["by_step"]["step-1"]
    assert step["requests"] == sum(c["usage"]["requests"] for c in calls if c["step"] == "step-1")
    assert abs(step["cost_usd"] - sum(c["cost_usd"] for c in calls if c["step"] == "step-1")) < 1e-6
    shown = _show(cli, repo, report["run_id"])
    assert "tokens and cost by role" in shown and "by step" in shown
    assert "$1.3000" in shown and "step-1" in shown


def test_a_model_without_a_price_shows_an_unknown_cost(tmp_path: Path, cli) -> None:
    report, calls, repo = priced_run(tmp_path, cli, '[roles.planner]\nmodel = "some-frontier-model"\n')
    assert calls[0]["model"] == "some-frontier-model" and calls[0]["cost_usd"] is None
    assert report["usage"]["by_role"]["planner"]["cost_usd"] is None
    assert report["usage"]["total"]["cost_usd"] is None
    assert report["usage"]["by_role"]["executor"]["cost_usd"] > 0
    assert "?" in _show(cli, repo, report["run_id"])


def _show(cli, repo: Path, run_id: str) -> str:
    result = cli("show", run_id, "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    return result.stdout
