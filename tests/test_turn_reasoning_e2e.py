"""Turn-level thinking: with reasoning = "auto" the executor reasons on complex steps and on the turn
after a failing test run or the critics' findings, and not otherwise; every request's setting is
journaled, and the prompt the model sees still extends the last one byte for byte when it switches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.journal import read_events
from agent.testing import ScriptedServer, Turn
from agent.testing.modelview import extends
from conftest import make_repo
from run_helpers import CRITICS, calc_finding, executor_turn, finish_turn, fix_median_turn, run_args, scripted, verdict
from test_plan_labels_e2e import labelled_plan

AUTO = '[roles.executor]\nreasoning = "auto"\n'
OFF_SWITCH = {"cerebras": ("reasoning_effort", "none"), "zai": ("thinking", "disabled"),
              "vllm": ("chat_template_kwargs", "enable_thinking")}


def thinking(turn: Turn, thought: str) -> Turn:
    return turn.model_copy(update={"reasoning": thought})


def off(body: dict, provider: str = "cerebras") -> bool:
    """Whether this request switched reasoning off the provider's way."""
    key, value = OFF_SWITCH[provider]
    sent = body.get(key)
    if provider == "cerebras":
        return sent == value
    if provider == "zai":
        return isinstance(sent, dict) and sent.get("type") == value
    return isinstance(sent, dict) and sent.get(value) is False


def model_calls(repo: Path, stdout: str, role: str = "executor") -> list[dict]:
    run_id = json.loads(stdout)["run_id"]
    events = read_events(repo / ".agent" / "runs" / run_id / "events.jsonl")
    return [e for e in events if e["type"] == "model_call" and e["role"] == role]


def two_step_run(tmp_path: Path, cli, config: str) -> tuple[list[dict], list[dict], list[dict]]:
    """A simple step (read, failing tests, fix, finish) then a complex one (finish)."""
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text(config)
    plan = labelled_plan(("Fix the median", "simple"), ("Harden the statistics API", "complex"))
    executor = [thinking(executor_turn("read_file", path="calc/stats.py"), "Read the module first."),
                thinking(executor_turn("run_tests"), "See what fails."),
                thinking(fix_median_turn(), "The pair is off by one."),
                thinking(finish_turn(), "Done."),
                thinking(finish_turn(), "Nothing more is needed.")]
    with ScriptedServer(scripted(plan, executor)) as server:
        result = cli(*run_args(server, repo))
        bodies = [r.body for r in server.requests_for("executor")]
        critics = [r.body for name in CRITICS for r in server.requests_for(name)]
    assert result.exit_code == 0, result.stderr
    return bodies, model_calls(repo, result.stdout), critics


def test_auto_runs_simple_steps_without_reasoning_and_thinks_after_a_failing_test_run(tmp_path: Path, cli) -> None:
    bodies, calls, critics = two_step_run(tmp_path, cli, AUTO)
    assert [off(b) for b in bodies] == [True, True, False, True, False]
    assert [c["reasoning_setting"] for c in calls] == ["off", "off", "on", "off", "on"]
    assert [c["reasoning_why"] for c in calls] == [
        "auto: simple step", "auto: simple step", "auto: the last test run failed", "auto: simple step",
        "auto: complex step"]
    assert [c["usage"]["reasoning_tokens"] > 0 for c in calls] == [False, False, True, False, True]
    assert all(b.get("clear_thinking") is False for b in bodies)  # earlier thinking stays in every prompt
    assert critics and all(off(b) for b in critics)  # the critics keep their own setting (off)


def test_reasoning_on_is_the_executor_default_and_is_journaled(tmp_path: Path, cli) -> None:
    bodies, calls, _ = two_step_run(tmp_path, cli, "")
    assert not any(off(b) for b in bodies)
    assert {(c["reasoning_setting"], c["reasoning_why"]) for c in calls} == {("on", "reasoning = on")}


def test_reasoning_off_for_the_executor_stays_off_after_a_failing_test_run(tmp_path: Path, cli) -> None:
    bodies, calls, _ = two_step_run(tmp_path, cli, '[roles.executor]\nreasoning = "off"\n')
    assert all(off(b) for b in bodies)
    assert {c["reasoning_why"] for c in calls} == {"reasoning = off"}


@pytest.mark.parametrize("provider", list(OFF_SWITCH))
def test_the_prompt_extends_the_last_one_when_reasoning_switches(tmp_path: Path, cli, provider: str) -> None:
    """A simple step: off, on after failing tests, off, then on after the critics' findings, then off.
    Each request's model view starts with the previous one's (bar its generation prompt), and every
    thought the model had is still shown in the last."""
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text(AUTO)
    thoughts = ["Run the tests first.", "The pair is off by one.", "Check the edge the critic named."]
    executor = [executor_turn("run_tests"), thinking(fix_median_turn(), thoughts[1]), finish_turn(),
                thinking(executor_turn("read_file", path="calc/stats.py"), thoughts[2]), finish_turn()]
    executor[0] = thinking(executor[0], thoughts[0])  # asked with reasoning off: the server drops it
    script = scripted(labelled_plan(("Fix the median", "simple")), executor)
    script.provider = provider  # type: ignore[assignment]
    finding = calc_finding("cover an even-length list", "medium")
    script.turns["qa"] = [verdict("request_changes", finding), verdict()]
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median", "--provider", provider))
        records = server.requests_for("executor")
    assert result.exit_code == 0, result.stderr
    assert [off(r.body, provider) for r in records] == [True, False, True, False, True]
    for index, (earlier, later) in enumerate(zip(records, records[1:])):
        assert extends(earlier.model_view, later.model_view), f"request {index + 2} does not extend request {index + 1}"
    last = records[-1].model_view
    assert thoughts[0] not in last  # never thought: reasoning was off for that turn
    assert all(f"<think>{t}</think>" in last for t in thoughts[1:])
