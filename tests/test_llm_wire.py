"""The model client through the real openai SDK against the scripted server: request shapes and streams."""

from __future__ import annotations

import asyncio
import json
from typing import Iterator

import pytest

from agent.llm.client import LLMClient
from agent.llm.types import ChatRequest, RoleSettings, StreamCallbacks, ToolCall
from agent.llm.usage import UsageLedger
from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Script()) as srv:
        yield srv


def settings(server: ScriptedServer, provider: str = "cerebras", **changes: object) -> RoleSettings:
    values: dict = dict(model="zai-glm-4.7", base_url=server.base_url, api_key="test-key", provider=provider,
                        reasoning=True, max_completion_tokens=16_384, temperature=None, top_p=None)
    return RoleSettings(**(values | changes))


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[LLMClient]:
    with LLMClient(lambda role: settings(server), UsageLedger(), sleep=lambda s: None) as llm:
        yield llm


def sent(server: ScriptedServer, role: str = "executor") -> dict:
    return server.requests_for(role)[-1].body


@pytest.mark.parametrize("provider, off, preserve", [
    ("cerebras", {"reasoning_effort": "none"}, {"clear_thinking": False}),
    ("zai", {"thinking": {"type": "disabled"}}, {"thinking": {"type": "enabled", "clear_thinking": False}}),
    ("vllm", {"chat_template_kwargs": {"enable_thinking": False}}, {"chat_template_kwargs": {"clear_thinking": False}}),
    ("openrouter", {"reasoning": {"enabled": False}}, {}),
    ("openai", {}, {}),
])
def test_each_profile_shapes_the_request(server: ScriptedServer, provider: str, off: dict, preserve: dict) -> None:
    server.set_default("executor", Turn(content="ok"))
    known = {"model", "messages", "stream", "stream_options", "max_completion_tokens", "temperature", "top_p"}
    with LLMClient(lambda role: settings(server, provider)) as llm:
        llm.complete(ChatRequest(role="executor", messages=HELLO, reasoning=False))
        body = sent(server)
        assert {k: v for k, v in body.items() if k not in known} == off
        llm.complete(ChatRequest(role="executor", messages=HELLO, preserve_thinking=True))
        assert {k: v for k, v in sent(server).items() if k not in known} == preserve
    assert body["stream"] is True
    assert body.get("stream_options") == (None if provider == "zai" else {"include_usage": True})
    assert server.requests_for("executor")[0].headers["x-agent-role"] == "executor"


def test_sampling_and_budget_follow_the_settings_with_a_hard_cap(server: ScriptedServer) -> None:
    server.set_default("qa", Turn(content="ok"))
    with LLMClient(lambda role: settings(server, temperature=0.6, max_completion_tokens=90_000)) as llm:
        llm.complete(ChatRequest(role="qa", messages=HELLO))
        first = sent(server, "qa")
        llm.complete(ChatRequest(role="qa", messages=HELLO, max_completion_tokens=1234))
    assert (first["temperature"], first["top_p"], first["max_completion_tokens"]) == (0.6, 0.95, 40_000)
    assert sent(server, "qa")["max_completion_tokens"] == 1234
    assert server.requests_for("qa")[0].headers["x-agent-role"] == "qa"


@pytest.mark.parametrize("provider, sent_back", [
    ("cerebras", {"content": "<think>first I read the file</think>Reading."}),
    ("zai", {"content": "Reading.", "reasoning_content": "first I read the file"}),
    ("vllm", {"content": "Reading.", "reasoning_content": "first I read the file"})])
def test_reasoning_streams_to_callbacks_and_goes_back_by_the_providers_carrier(
        server: ScriptedServer, provider: str, sent_back: dict) -> None:
    wire_field = "reasoning" if provider == "cerebras" else "reasoning_content"
    server.push("executor", Turn(reasoning="first I read the file", content="Reading.",
                                 reasoning_field=wire_field),  # type: ignore[arg-type]
                Turn(content="done"))
    pieces: list[str] = []
    with LLMClient(lambda role: settings(server, provider)) as llm:
        first = llm.complete(ChatRequest(role="executor", messages=HELLO), StreamCallbacks(on_reasoning=pieces.append))
        history = [*HELLO, llm.assistant_message("executor", first), {"role": "user", "content": "go on"}]
        llm.complete(ChatRequest(role="executor", messages=history, preserve_thinking=True))
    assert len(pieces) > 1 and "".join(pieces) == "first I read the file"
    assert sent(server)["messages"][1] == {"role": "assistant", **sent_back}


@pytest.mark.parametrize("style", ["whole", "pieces"])
def test_tool_calls_in_either_streaming_style(server: ScriptedServer, client: LLMClient, style: str) -> None:
    calls = [ToolCallSpec(name="read_file", arguments={"path": "src/a.py", "start_line": 3}),
             ToolCallSpec(name="search", arguments={"pattern": "def \\w+\\(", "glob": "*.py"})]
    server.push("executor", Turn(tool_calls=calls, tool_call_style=style))  # type: ignore[arg-type]
    fired: list[ToolCall] = []
    completion = client.complete(ChatRequest(role="executor", messages=HELLO), StreamCallbacks(on_tool_call=fired.append))
    assert fired == completion.tool_calls
    assert [(c.name, json.loads(c.arguments)) for c in completion.tool_calls] == \
        [("read_file", {"path": "src/a.py", "start_line": 3}), ("search", {"pattern": "def \\w+\\(", "glob": "*.py"})]
    assert all(c.id.startswith("call_") for c in completion.tool_calls)
    assert completion.finish_reason == "tool_calls"


def test_leaked_tool_call_text_is_recovered(server: ScriptedServer, client: LLMClient) -> None:
    server.push("executor", Turn(content="<tool_call>read_file<arg_key>path</arg_key><arg_value>a.py"
                                         "</arg_value></tool_call><|observation|>"))
    completion = client.complete(ChatRequest(role="executor", messages=HELLO))
    assert completion.content == ""
    assert [(c.name, c.arguments) for c in completion.tool_calls] == [("read_file", '{"path": "a.py"}')]
    assert completion.finish_reason == "tool_calls"


def test_assistant_message_with_tool_calls_is_byte_stable(server: ScriptedServer, client: LLMClient) -> None:
    server.push("executor", Turn(reasoning="r", tool_calls=[ToolCallSpec(name="list_files", id="call_9")]))
    completion = client.complete(ChatRequest(role="executor", messages=HELLO))
    texts = {json.dumps(client.assistant_message("executor", completion)) for _ in range(3)}
    assert texts == {'{"role": "assistant", "content": "<think>r</think>", "tool_calls": [{"id": "call_9", '
                     '"type": "function", "function": {"name": "list_files", "arguments": "{}"}}]}'}


def test_usage_is_accounted_by_role_and_step(server: ScriptedServer, client: LLMClient) -> None:
    server.set_default("executor", Turn(reasoning="abcd" * 5, content="x" * 40))
    server.set_default("reviewer", Turn(content="{}"))
    long_prompt = [{"role": "user", "content": "y" * 4000}]
    client.complete(ChatRequest(role="executor", messages=long_prompt, step="1"))
    client.complete(ChatRequest(role="executor", messages=[*long_prompt, {"role": "user", "content": "z"}], step="1"))
    client.complete(ChatRequest(role="reviewer", messages=HELLO, step="2"))
    ledger = client.ledger
    assert ledger is not None
    executor = ledger.by_role()["executor"]
    assert executor["requests"] == 2
    assert executor["prompt_tokens"] > 2000 and executor["cached_tokens"] >= 896  # the repeated prefix hit the cache
    assert executor["reasoning_tokens"] == 10 and executor["completion_tokens"] == 30
    assert executor["seconds"] > 0 and executor["first_token_seconds"] > 0
    assert set(ledger.by_step()) == {"1", "2"} and ledger.by_step()["2"]["requests"] == 1
    assert ledger.total()["requests"] == 3


def test_async_requests_run_concurrently(server: ScriptedServer) -> None:
    for critic in ("reviewer", "qa", "security", "performance"):
        server.set_default(critic, Turn(content=f'{{"verdict": "approve", "by": "{critic}"}}', delay_s=0.4))
    ledger = UsageLedger()
    llm = LLMClient(lambda role: settings(server), ledger)

    async def gate() -> list[str]:
        try:
            answers = await asyncio.gather(*[llm.acomplete(ChatRequest(role=critic, messages=HELLO, step="1"))
                                             for critic in ("reviewer", "qa", "security", "performance")])
        finally:
            await llm.aclose()
        return [answer.content for answer in answers]

    contents = asyncio.run(gate())
    assert [json.loads(c)["by"] for c in contents] == ["reviewer", "qa", "security", "performance"]
    records = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(records) == 4
    assert max(r.started for r in records) < min(r.ended for r in records)  # all four were in flight at once
    assert set(ledger.by_role()) == {"reviewer", "qa", "security", "performance"}
