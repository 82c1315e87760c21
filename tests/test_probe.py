"""`agent probe`: the validation checklist, run as a user runs it, against scripted endpoints."""

from __future__ import annotations

import socket
import time
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

    def respond(view: str, body: dict[str, Any]) -> Turn:
        if check == "structured output" and body.get("response_format"):
            return Turn(content="Paris is in France.")
        return probe_responder(view, body)

    return respond


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Script()) as srv:
        yield srv


def settings_for(server: ScriptedServer, provider: str = "cerebras", **changes: Any) -> RoleSettings:
    return RoleSettings(model="zai-glm-4.7", base_url=server.base_url, api_key="k", provider=provider,  # type: ignore[arg-type]
                        reasoning=True, max_completion_tokens=8000, temperature=None, top_p=None, **changes)


def probe(script: Script, provider: str = "cerebras", long_context: int = 0, **changes: Any) -> dict[str, tuple[str, str]]:
    with ScriptedServer(script) as server:
        server.set_view_responder("executor", probe_responder)
        with LLMClient(lambda role: settings_for(server, provider, **changes)) as client:
            results = Probe(client, long_context=long_context).run()
    assert [r.name for r in results] == CHECKS
    return {r.name: (r.outcome, r.detail) for r in results}


def test_scripted_probe_passes_every_check(cli) -> None:
    result = cli("probe", "--scripted", "--long-context", "3000")
    assert result.exit_code == 0, result.stderr
    assert "scripted" in result.stdout and "7/7 checks passed" in result.stdout
    for check in CHECKS:
        assert check in result.stdout
    assert "FAIL" not in result.stdout.upper().replace("FAILED", "")


def test_probe_fails_when_the_endpoint_breaks_a_check(server: ScriptedServer, tmp_repo: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    server.set_view_responder("executor", breaking("structured output"))
    monkeypatch.setenv("CEREBRAS_API_KEY", "test-key")
    monkeypatch.setenv("COLUMNS", "160")
    assert probe_command({"base_url": server.base_url}, tmp_repo, long_context=0, scripted=False) == 1
    out = capsys.readouterr().out
    # A skipped check is shown as skipped, never counted as passed.
    assert "5/7 checks passed; skipped: long context; failed: structured output" in out
    assert "scripted" not in out
    bodies = [r.body for r in server.requests_for("executor")]
    strict = [b["response_format"] for b in bodies if "response_format" in b]
    assert strict[0]["type"] == "json_schema" and strict[0]["json_schema"]["strict"] is True
    assert strict[0]["json_schema"]["schema"]["additionalProperties"] is False


@pytest.mark.parametrize("provider", ["cerebras", "zai", "vllm"])
def test_preserved_thinking_passes_only_when_the_model_sees_its_earlier_reasoning(provider: str) -> None:
    faithful = probe(Script(provider=provider), provider)  # type: ignore[arg-type]
    assert faithful["preserved thinking"][0] == "pass"
    assert all(outcome != "fail" for outcome, _ in faithful.values())
    dropping = probe(Script(provider=provider, ignored_keys=["clear_thinking", "thinking", "chat_template_kwargs"]),  # type: ignore[arg-type]
                     provider)
    assert dropping["preserved thinking"][0] == "fail"


def test_preserved_thinking_names_the_carrier_that_works() -> None:
    # Cerebras drops reasoning_details: with a role's carrier set wrongly, the earlier reasoning never
    # reaches the prompt, and the probe says which carrier does.
    results = probe(Script(), "cerebras", carrier="reasoning_details")
    outcome, detail = results["preserved thinking"]
    assert outcome == "fail" and 'reasoning_carrier = "think_in_content"' in detail


def test_reasoning_off_passes_only_when_no_reasoning_comes_back() -> None:
    results = probe(Script(ignored_keys=["reasoning_effort"]))
    outcome, detail = results["reasoning off"]
    assert outcome == "pass" and "no reasoning with disable_reasoning; ignored: reasoning_effort" in detail
    results = probe(Script(ignored_keys=["reasoning_effort", "disable_reasoning"]))
    outcome, detail = results["reasoning off"]
    assert outcome == "fail" and "despite reasoning_effort, disable_reasoning" in detail


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:{port}/v1", "http://no-such-host.invalid/v1"])
def test_a_dead_endpoint_ends_the_probe_at_once(cli, base_url: str) -> None:
    with socket.socket() as spare:  # a port nothing listens on
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    started = time.monotonic()
    result = cli("probe", "--base-url", base_url.format(port=port), env={"CEREBRAS_API_KEY": "k"})
    assert result.exit_code == 1 and time.monotonic() - started < 30  # not one retrying check after another
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agent: cannot reach") and "Traceback" not in result.stderr
    assert result.stdout == ""


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
