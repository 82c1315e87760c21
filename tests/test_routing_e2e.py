"""`agent run --route auto`: a task the plan rates beyond GLM is executed by the escalation role."""

from __future__ import annotations

import json
from pathlib import Path

from agent.journal import read_events
from agent.testing import Script, ScriptedServer, Turn
from conftest import git, make_repo
from run_helpers import demo_script, run_args

FRONTIER = "frontier-model"
KEYS = {"CEREBRAS_API_KEY": "glm-key", "OPENROUTER_API_KEY": "frontier-key"}


def _planned(difficulty: str, *complexities: str) -> Script:
    """The demo's run, its plan rated `difficulty` with its two steps labelled `complexities`."""
    script = demo_script()
    plan = json.loads(script.turns["planner"][0].content)
    for step, complexity in zip(plan["steps"], complexities):
        step["complexity"] = complexity
    script.turns["planner"] = [Turn(content=json.dumps({**plan, "difficulty": difficulty}))]
    return script


def _configure(repo: Path, server: ScriptedServer, *lines: str) -> None:
    (repo / ".agent.toml").write_text("\n".join([*lines, "[roles.escalation]", f'model = "{FRONTIER}"',
                                                 'provider = "openrouter"', f'base_url = "{server.base_url}"']) + "\n")


def _chat(server: ScriptedServer) -> list:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_a_task_rated_hard_is_executed_by_the_escalation_role_from_the_start(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    glm_script = _planned("hard", "complex", "simple")
    frontier = Script(model=FRONTIER, turns={"escalation": glm_script.turns.pop("executor")})
    with ScriptedServer(glm_script) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc)
        args = [a for a in run_args(glm, repo, "fix the median", "--route", "auto") if a != "--json"]
        result = cli(*args, env=KEYS)
        glm_roles, esc_chat = {r.role for r in _chat(glm)}, _chat(esc)
    assert result.exit_code == 0, result.stderr
    line = f"route: {FRONTIER} (the escalation role) executes every step: the planner rates the task hard"
    lines = result.stdout.splitlines()
    assert any(text.startswith(line) for text in lines)
    assert lines.index(next(t for t in lines if t.startswith(line))) < lines.index(next(t for t in lines if "▶ step 1" in t))
    assert "executor" not in glm_roles and {"planner", "qa"} <= glm_roles
    assert len(esc_chat) == 10 and {r.headers["x-agent-role"] for r in esc_chat} == {"escalation"}
    assert {r.headers["authorization"] for r in esc_chat} == {"Bearer frontier-key"}
    runs = repo / ".agent" / "runs"
    [run_dir] = list(runs.iterdir())
    report = json.loads((run_dir / "report.json").read_text())
    assert report["route"] == {"executor": "escalation", "model": FRONTIER,
                               "reasons": ["the planner rates the task hard (route_difficulty = hard)"]}
    assert [s["model"] for s in report["steps"]] == [FRONTIER, FRONTIER] and report["escalations"] == []
    log = git(repo, "log", "--format=%(trailers)", f"{report['base_commit']}..{report['branch']}")
    assert log.count(f"Agent-Model: {FRONTIER}") == 2
    events = [e["type"] for e in read_events(run_dir / "events.jsonl")]
    assert events.index("route") == events.index("plan") + 1


def test_the_rule_is_configurable_and_a_task_within_it_stays_with_glm(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(_planned("moderate", "simple", "simple")) as glm, ScriptedServer(Script()) as esc:
        _configure(repo, esc, 'route = "auto"')
        within = cli(*run_args(glm, repo), env=KEYS)
        esc_requests = len(_chat(esc))
    assert within.exit_code == 0, within.stderr
    assert json.loads(within.stdout)["route"] == {"executor": "executor", "model": "zai-glm-4.7", "reasons": []}
    assert esc_requests == 0

    repo = make_repo(tmp_path / "calc2", "calc_bug")
    glm_script = _planned("moderate", "simple", "simple")
    frontier = Script(model=FRONTIER, turns={"escalation": glm_script.turns.pop("executor")})
    with ScriptedServer(glm_script) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc, 'route = "auto"', "route_steps = 2", 'route_difficulty = "never"')
        beyond = cli(*run_args(glm, repo), env=KEYS)
    assert beyond.exit_code == 0, beyond.stderr
    assert json.loads(beyond.stdout)["route"]["reasons"] == ["the plan has 2 steps (route_steps = 2)"]


def test_route_auto_without_an_escalation_role_is_a_one_line_error(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    result = cli("run", "fix it", "--repo", str(repo), "--route", "auto", "--yes", env=KEYS)
    assert result.exit_code == 2
    assert result.stderr.startswith("agent: route = auto (flag --route) needs an escalation role")
    assert len(result.stderr.strip().splitlines()) == 1 and not (repo / ".agent" / "runs").exists()


def test_a_resumed_routed_run_keeps_its_executor(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    glm_script = _planned("hard", "complex", "complex")
    glm_script.turns.pop("qa")
    finding = {"severity": "high", "message": "not yet", "file": "tests/test_stats.py", "line": 36, "suggestion": None,
               "evidence": "def test_rejects_empty_input(function):"}
    glm_script.turns["security"] = [Turn(content=json.dumps({"verdict": "approve", "findings": []})),
                                    Turn(content=json.dumps({"verdict": "request_changes", "findings": [finding]}))]
    turns = glm_script.turns.pop("executor")
    frontier = Script(model=FRONTIER, turns={"escalation": turns[:4] + turns[7:] + turns[7:]})
    with ScriptedServer(glm_script) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc, 'route = "auto"')
        blocked = cli(*run_args(glm, repo, "fix the median", "--max-revisions", "0"), env=KEYS)
        run_id = json.loads(blocked.stdout)["run_id"]
        resumed = cli("resume", run_id, "--repo", str(repo), "--json", env=KEYS)
        glm_roles, esc_requests = {r.role for r in _chat(glm)}, len(_chat(esc))
    assert json.loads(blocked.stdout)["status"] == "blocked"
    assert resumed.exit_code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["status"] == "succeeded" and [s["model"] for s in report["steps"]] == [FRONTIER, FRONTIER]
    assert "executor" not in glm_roles and esc_requests == 10
    events = [e["type"] for e in read_events(repo / ".agent" / "runs" / run_id / "events.jsonl")]
    assert events.count("route") == 1
