"""The planner labels each step simple or complex and rates the task; the labels reach the journal
and survive a resume."""

from __future__ import annotations

import json
from pathlib import Path

from agent.journal import read_events
from agent.testing import ScriptedServer, Turn
from conftest import make_repo
from run_helpers import finish_turn, fix_median_turn, run_args, scripted


def labelled_plan(*steps: tuple[str, str], difficulty: str | None = "moderate") -> Turn:
    plan: dict = {"steps": [{"title": t, "description": f"{t}.", "acceptance": "the tests pass", "complexity": c}
                            for t, c in steps]}
    if difficulty is not None:
        plan["difficulty"] = difficulty
    return Turn(content=json.dumps(plan))


def plan_event(repo: Path, stdout: str) -> dict:
    run_id = json.loads(stdout)["run_id"]
    events = read_events(repo / ".agent" / "runs" / run_id / "events.jsonl")
    return next(e for e in events if e["type"] == "plan")


def test_the_planner_is_asked_for_labels_and_its_labels_are_journaled(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = scripted(labelled_plan(("Fix the median", "simple"), ("Rework the statistics API", "complex"),
                                    difficulty="hard"),
                      [fix_median_turn(), finish_turn(), finish_turn()])
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo))
        planner = server.requests_for("planner")[0].body
    assert result.exit_code == 0, result.stderr
    schema = planner["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["steps", "difficulty"]
    assert schema["properties"]["steps"]["items"]["properties"]["complexity"]["enum"] == ["simple", "complex"]
    assert '"complexity": "simple" | "complex"' in planner["messages"][0]["content"]
    event = plan_event(repo, result.stdout)
    assert [s["complexity"] for s in event["steps"]] == ["simple", "complex"]
    assert event["difficulty"] == "hard"


def test_a_step_the_planner_did_not_label_counts_as_complex(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    unlabelled = Turn(content=json.dumps({"steps": [{"title": "Fix the median", "description": "d", "acceptance": "a"}]}))
    with ScriptedServer(scripted(unlabelled, [fix_median_turn(), finish_turn()])) as server:
        result = cli(*run_args(server, repo))
    assert result.exit_code == 0, result.stderr
    event = plan_event(repo, result.stdout)
    assert event["steps"][0]["complexity"] == "complex" and event["difficulty"] is None
