"""Escalation end to end: a stuck step goes to the escalation role, on its own endpoint and key."""

from __future__ import annotations

import json
from pathlib import Path

from agent.journal import read_events
from agent.testing import ErrorSpec, Script, ScriptedServer, Turn
from conftest import git, make_repo
from run_helpers import demo_script, executor_turn, finish_turn, run_args, verdict

FRONTIER = "frontier-model"
KEYS = {"CEREBRAS_API_KEY": "glm-key", "OPENROUTER_API_KEY": "frontier-key"}
# Its evidence quotes the fixed tree, so a gate that checks evidence against the tree keeps it.
STILL_WRONG = {"severity": "high", "message": "the two-value median is still wrong", "file": "calc/stats.py",
               "line": 29, "suggestion": None, "evidence": "return (ordered[mid - 1] + ordered[mid]) / 2"}


def _configure(repo: Path, server: ScriptedServer, mode: str | None = None) -> None:
    """The escalation role on its own endpoint through the OpenRouter profile (its own key variable)."""
    lines = [f'escalation = "{mode}"'] if mode else []
    lines += ["[roles.escalation]", f'model = "{FRONTIER}"', 'provider = "openrouter"', f'base_url = "{server.base_url}"']
    (repo / ".agent.toml").write_text("\n".join(lines) + "\n")


def _glm_rejecting_twice() -> Script:
    """The demo's run, with qa rejecting step 1 on both of its attempts (--max-revisions 1)."""
    script = demo_script()
    rejection = verdict("request_changes", STILL_WRONG)
    script.turns["qa"] = [rejection, rejection]
    return script


def _chat(server: ScriptedServer) -> list:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def _trailers(repo: Path, report: dict) -> list[str]:
    log = git(repo, "log", "--reverse", "--format=%(trailers)%x00", f"{report['base_commit']}..{report['branch']}")
    return [t.strip() for t in log.split("\0") if t.strip()]


def test_execute_takes_the_stuck_step_on_its_own_endpoint_and_commits_it(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    frontier = Script(model=FRONTIER, turns={"escalation": [executor_turn("run_tests"), finish_turn("verified")]})
    with ScriptedServer(_glm_rejecting_twice()) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc, "execute")
        result = cli(*run_args(glm, repo, "fix the median", "--max-revisions", "1"), env=KEYS)
        glm_chat, esc_chat = _chat(glm), _chat(esc)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert [s["attempts"] for s in report["steps"]] == [3, 1]
    assert [s["model"] for s in report["steps"]] == [FRONTIER, "zai-glm-4.7"]
    # Its own endpoint, its own key, its role header, its model; GLM's endpoint never sees the role.
    assert len(esc_chat) == 2
    assert {r.headers["x-agent-role"] for r in esc_chat} == {"escalation"}
    assert {r.headers["authorization"] for r in esc_chat} == {"Bearer frontier-key"}
    assert {r.body["model"] for r in esc_chat} == {FRONTIER}
    assert {r.headers["authorization"] for r in glm_chat} == {"Bearer glm-key"}
    assert "escalation" not in {r.role for r in glm_chat}
    # The case file: the findings with their evidence, the failing tests' state, the last diff.
    case = esc_chat[0].body["messages"][-1]["content"]
    assert "[qa, high] the two-value median is still wrong" in case and "  file: calc/stats.py" in case
    assert "the critics did not approve after 2 attempts" in case and "ordered[mid - 1] + ordered[mid]" in case
    assert esc_chat[0].body["tools"] == glm_chat[1].body["tools"]  # the executor's own tools
    first, second = _trailers(repo, report)
    assert f"Agent-Model: {FRONTIER}" in first and "Qa: approve" in first
    assert "Agent-Model: zai-glm-4.7" in second
    [escalation] = report["escalations"]
    assert (escalation["index"], escalation["mode"], escalation["trigger"], escalation["outcome"]) == \
        (0, "execute", "critics", "approved")
    assert escalation["usage"]["requests"] == 2 == report["usage"]["by_role"]["escalation"]["requests"]


def test_advise_gives_the_executor_guidance_for_one_more_attempt(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    glm_script = _glm_rejecting_twice()
    step_two = glm_script.turns["executor"][7:]
    glm_script.turns["executor"] = glm_script.turns["executor"][:7] + [executor_turn("run_tests"), finish_turn()] + step_two
    guidance = "Root cause: none left in median(); the qa finding is stale. Run the tests and finish."
    frontier = Script(model=FRONTIER, turns={"escalation": [Turn(content=guidance)]})
    with ScriptedServer(glm_script) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc)
        result = cli(*run_args(glm, repo, "fix the median", "--max-revisions", "1", "--escalation", "advise"), env=KEYS)
        executor_bodies = [r.body for r in glm.requests_for("executor")]
        esc_chat = _chat(esc)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(esc_chat) == 1 and esc_chat[0].body.get("tools") is None
    assert "the two-value median is still wrong" in esc_chat[0].body["messages"][-1]["content"]
    advised = executor_bodies[7]["messages"][-1]
    assert advised["role"] == "user" and guidance in advised["content"]
    first, _ = _trailers(repo, report)
    assert "Agent-Model: zai-glm-4.7" in first and f"Agent-Advisor: {FRONTIER}" in first
    assert report["escalations"][0]["mode"] == "advise" and report["escalations"][0]["outcome"] == "approved"
    events = list(read_events(repo / ".agent" / "runs" / report["run_id"] / "events.jsonl"))
    assert [e["guidance"] for e in events if e["type"] == "escalation_advice"] == [guidance]


def test_a_step_is_escalated_once_then_blocked(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    glm_script = _glm_rejecting_twice()
    glm_script.defaults["qa"] = verdict("request_changes", STILL_WRONG)
    frontier = Script(model=FRONTIER, turns={"escalation": [executor_turn("run_tests"), finish_turn("verified")]})
    with ScriptedServer(glm_script) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc, "execute")
        result = cli(*run_args(glm, repo, "fix the median", "--max-revisions", "1"), env=KEYS)
        esc_requests = len(_chat(esc))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "blocked" and report["steps"][0]["attempts"] == 3
    assert esc_requests == 2
    assert [e["outcome"] for e in report["escalations"]] == ["rejected"]
    events = list(read_events(repo / ".agent" / "runs" / report["run_id"] / "events.jsonl"))
    [blocked] = [e for e in events if e["type"] == "step_blocked"]
    assert blocked["reason"] == "the critics did not approve after 3 attempts; escalated 1 time"


def test_off_keeps_a_stuck_step_blocked_without_calling_the_escalation_role(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(_glm_rejecting_twice()) as glm, ScriptedServer(Script(model=FRONTIER)) as esc:
        _configure(repo, esc, "off")
        result = cli(*run_args(glm, repo, "fix the median", "--max-revisions", "1"), env=KEYS)
        esc_requests = len(esc.requests)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "blocked" and report["escalations"] == []
    assert [s["status"] for s in report["steps"]] == ["blocked", "skipped"] and report["steps"][0]["attempts"] == 2
    assert esc_requests == 0
    events = list(read_events(repo / ".agent" / "runs" / report["run_id"] / "events.jsonl"))
    assert [e["reason"] for e in events if e["type"] == "step_blocked"] == ["the critics did not approve after 2 attempts"]


def test_a_loop_the_governor_stops_is_escalated_with_every_tool_call_answered(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    glm_script = demo_script()
    reread = executor_turn("read_file", path="calc/stats.py")
    # The fourth identical call stops the step mid-turn; the advised attempt starts from there.
    glm_script.turns["executor"] = [reread] * 4 + glm_script.turns["executor"][1:4] + glm_script.turns["executor"][7:]
    glm_script.turns.pop("qa")
    frontier = Script(model=FRONTIER, turns={"escalation": [Turn(content="Stop re-reading; patch median().")]})
    with ScriptedServer(glm_script) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc, "advise")
        result = cli(*run_args(glm, repo), env=KEYS)
        executor_bodies = [r.body for r in glm.requests_for("executor")]
        case = _chat(esc)[0].body["messages"][-1]["content"]
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["escalations"][0]["trigger"] == "governor"
    assert "read_file was called 4 times in a row" in case and "(no reviewer judged the last attempt)" in case
    advised = executor_bodies[4]["messages"]
    calls = {c["id"] for m in advised if m["role"] == "assistant" for c in m.get("tool_calls") or []}
    assert calls == {m["tool_call_id"] for m in advised if m["role"] == "tool"}
    assert "Stop re-reading" in advised[-1]["content"]


def test_escalation_without_an_escalation_model_is_a_one_line_error(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    result = cli("run", "fix it", "--repo", str(repo), "--escalation", "execute", "--yes", env=KEYS)
    assert result.exit_code == 2
    assert "escalation = execute (flag --escalation) needs an escalation role" in result.stderr
    assert "Traceback" not in result.stderr and not (repo / ".agent" / "runs").exists()


def test_the_run_shows_the_escalation_as_it_happens_and_in_the_summary(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    frontier = Script(model=FRONTIER, turns={"escalation": [executor_turn("run_tests"), finish_turn("verified")]})
    with ScriptedServer(_glm_rejecting_twice()) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc, "execute")
        args = [a for a in run_args(glm, repo, "fix the median", "--max-revisions", "1") if a != "--json"]
        result = cli(*args, env=KEYS)
    assert result.exit_code == 0, result.stderr
    assert (f"⇪ step 1 escalated to {FRONTIER} (execute: it takes the step): "
            "the critics did not approve after 2 attempts") in result.stdout
    summary = next(line for line in result.stdout.splitlines() if line.startswith("escalation: step 1"))
    assert f"→ {FRONTIER}, execute: approved;" in summary and "in 2 requests" in summary
    assert "escalation" in [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def test_a_batch_spec_asks_for_escalation_like_a_flag(tmp_path, cli):
    make_repo(tmp_path / "calc", "calc_bug")
    spec = tmp_path / "batch.yaml"
    spec.write_text("task: x\nbase_url: http://127.0.0.1:9/v1\nescalation: advise\ntargets:\n  - repo: calc\n")
    refused = cli("batch", str(spec), "--dry-run")
    assert refused.exit_code == 2
    assert f"escalation = advise (flag {spec}:3: escalation) needs an escalation role" in refused.stderr
    spec.write_text("task: x\nbase_url: http://127.0.0.1:9/v1\nescalation: always\ntargets:\n  - repo: calc\n")
    wrong = cli("batch", str(spec), "--dry-run")
    assert wrong.exit_code == 2
    assert wrong.stderr == f"agent: {spec}:3: escalation: must be one of off, advise or execute (got 'always')\n"


def test_doctor_checks_the_escalation_role(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text('escalation = "advise"\n')
    with ScriptedServer(Script()) as glm, ScriptedServer(Script(model=FRONTIER)) as esc:
        missing = cli("doctor", "--repo", str(repo), "--base-url", glm.base_url, env=KEYS)
        _configure(repo, esc, "advise")
        ready = cli("doctor", "--repo", str(repo), "--base-url", glm.base_url, env=KEYS)
        frontier_url = esc.base_url
    checks = [line.split() for line in missing.stdout.splitlines() if line.startswith("  fail") or line.startswith("  ok")]
    assert ["fail", "escalation", "escalation", "=", "advise", "(file"] == checks[1][:6]
    assert checks[0][:2] == ["ok", "critics"] and missing.exit_code == 1
    lines = [line.split() for line in ready.stdout.splitlines()]
    assert ["ok", "escalation", FRONTIER, "via", "openrouter"] in [line[:5] for line in lines], ready.stdout
    assert ["escalation", FRONTIER, "openrouter", frontier_url] in [line[:4] for line in lines], ready.stdout


def test_a_refused_escalation_key_stops_the_run_with_one_line_and_it_stays_resumable(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    refused = Turn(error=ErrorSpec(status=401, type="invalid_api_key", message="Wrong API Key"))
    with ScriptedServer(_glm_rejecting_twice()) as glm, ScriptedServer(Script(turns={"escalation": [refused]})) as esc:
        _configure(repo, esc, "advise")
        result = cli(*run_args(glm, repo, "fix the median", "--max-revisions", "1"), env=KEYS)
    assert result.exit_code == 2
    assert "OPENROUTER_API_KEY" in result.stderr and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "error" and [e["outcome"] for e in report["escalations"]] == ["interrupted"]
    assert report["workspace_state"] == "present"


def test_a_blocked_run_resumed_with_escalation_gets_unblocked(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    glm_script = _glm_rejecting_twice()
    executor = glm_script.turns["executor"]
    glm_script.turns["executor"] = executor[:7] + executor[:7] + executor[7:]  # the resumed run redoes step 1
    glm_script.turns["qa"] *= 2
    frontier = Script(model=FRONTIER, turns={"escalation": [executor_turn("run_tests"), finish_turn("verified")]})
    with ScriptedServer(glm_script) as glm, ScriptedServer(frontier) as esc:
        _configure(repo, esc)
        blocked = cli(*run_args(glm, repo, "fix the median", "--max-revisions", "1"), env=KEYS)
        run_id = json.loads(blocked.stdout)["run_id"]
        resumed = cli("resume", run_id, "--repo", str(repo), "--escalation", "execute", "--json", env=KEYS)
    assert blocked.exit_code == 1 and json.loads(blocked.stdout)["status"] == "blocked"
    assert resumed.exit_code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["status"] == "succeeded" and [s["model"] for s in report["steps"]] == [FRONTIER, "zai-glm-4.7"]
    assert [(e["index"], e["outcome"]) for e in report["escalations"]] == [(0, "approved")]
