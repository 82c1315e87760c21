"""`agent probe`: the validation checklist, run as a user runs it, against scripted endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from agent.commands.probe import probe_command
from agent.errors import AuthError, UserError
from agent.llm.client import LLMClient
from agent.llm.probe import Probe
from agent.llm.probe_script import probe_responder
from agent.llm.types import RoleSettings
from agent.testing import ErrorSpec, Script, ScriptedServer, Turn

CHECKS = ["reasoning on", "streamed reasoning", "reasoning off", "tool call round trip", "preserved thinking",
          "structured output", "long context"]


def breaking(check: str):
    """The built-in scripted model, except that it gets one check wrong."""

    def respond(body: dict[str, Any], role: str) -> Turn:
        if check == "structured output" and body.get("response_format"):
            return Turn(content="Paris is in France.")
        turn = probe_responder(body, role)
        if check == "reasoning off" and body.get("disable_reasoning") and turn.content == "391":
            return turn.model_copy(update={"reasoning": "I thought anyway."})
        return turn

    return respond


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Script()) as srv:
        yield srv


def test_scripted_probe_passes_every_check(cli) -> None:
    result = cli("probe", "--scripted", "--long-context", "3000")
    assert result.exit_code == 0, result.stderr
    assert "scripted" in result.stdout and "7/7 checks passed" in result.stdout
    for check in CHECKS:
        assert check in result.stdout
    assert "FAIL" not in result.stdout.upper().replace("FAILED", "")


def test_probe_fails_when_the_endpoint_breaks_a_check(server: ScriptedServer, tmp_repo: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    server.set_responder("executor", breaking("structured output"))
    monkeypatch.setenv("CEREBRAS_API_KEY", "test-key")
    monkeypatch.setenv("COLUMNS", "160")
    assert probe_command({"base_url": server.base_url}, tmp_repo, long_context=0, scripted=False) == 1
    out = capsys.readouterr().out
    assert "6/7 checks passed; failed: structured output" in out
    assert "skipped" in out and "scripted" not in out  # --long-context 0, a real endpoint
    bodies = [r.body for r in server.requests_for("executor")]
    strict = [b["response_format"] for b in bodies if "response_format" in b]
    assert strict[0]["type"] == "json_schema" and strict[0]["json_schema"]["strict"] is True
    assert strict[0]["json_schema"]["schema"]["additionalProperties"] is False


def test_probe_results_name_the_broken_check(server: ScriptedServer) -> None:
    server.set_responder("executor", breaking("reasoning off"))
    settings = RoleSettings(model="zai-glm-4.7", base_url=server.base_url, api_key="k", provider="cerebras",
                            reasoning=True, max_completion_tokens=8000, temperature=None, top_p=None)
    with LLMClient(lambda role: settings) as client:
        results = Probe(client, long_context=500).run()
    assert [r.name for r in results] == CHECKS
    assert {r.name: r.outcome for r in results if r.outcome != "pass"} == {"reasoning off": "fail"}
    bodies = [r.body for r in server.requests_for("executor")]
    follow_up = next(b for b in bodies if len(b["messages"]) == 4 and b["messages"][-1]["role"] == "user")
    assert follow_up["messages"][2]["reasoning"] and follow_up["clear_thinking"] is False
    tool_turn = next(b for b in bodies if b["messages"][-1]["role"] == "tool")
    assert json.loads(tool_turn["messages"][-2]["tool_calls"][0]["function"]["arguments"]) == {"name": "probe"}


def test_probe_with_a_refused_key_is_an_auth_error(server: ScriptedServer, tmp_repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server.set_default("executor", Turn(error=ErrorSpec(status=401, message="Wrong API Key")))
    monkeypatch.setenv("CEREBRAS_API_KEY", "sk-wrong")
    with pytest.raises(AuthError) as info:
        probe_command({"base_url": server.base_url}, tmp_repo, long_context=0, scripted=False)
    assert info.value.exit_code == 2 and "CEREBRAS_API_KEY" in str(info.value) and "sk-wrong" not in str(info.value)
    assert len(server.requests_for("executor")) == 1  # the first check stops the probe


def test_probe_without_a_key_is_a_user_error(tmp_repo: Path) -> None:
    with pytest.raises(UserError, match="CEREBRAS_API_KEY") as info:
        probe_command({}, tmp_repo, long_context=0, scripted=False)
    assert info.value.exit_code == 2
