"""Faults through the real openai SDK against the scripted server: what is retried, how long we wait, what ends a call."""

from __future__ import annotations

import asyncio
from typing import Iterator

import pytest

from agent.errors import AuthError, ContextLengthError, ModelAPIError
from agent.llm.client import LLMClient
from agent.llm.retry import RetryPolicy, StreamError, classify
from agent.llm.types import ChatRequest, RoleSettings, StreamCallbacks
from agent.testing import ErrorSpec, Script, ScriptedServer, Turn

HELLO = [{"role": "user", "content": "hello"}]
ASK = ChatRequest(role="executor", messages=HELLO)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Script()) as srv:
        yield srv


def settings(server: ScriptedServer, **changes: object) -> RoleSettings:
    values: dict = dict(model="zai-glm-4.7", base_url=server.base_url, api_key="sk-secret-123", provider="cerebras",
                        reasoning=True, max_completion_tokens=1000, temperature=None, top_p=None)
    return RoleSettings(**(values | changes))


class Recorder:
    """The injected sleep: remembers every wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Recorder:
    return Recorder()


@pytest.fixture
def client(server: ScriptedServer, sleeps: Recorder) -> Iterator[LLMClient]:
    with LLMClient(lambda role: settings(server), sleep=sleeps) as llm:
        yield llm


def statuses(server: ScriptedServer) -> list[int]:
    return [r.status for r in server.requests_for("executor")]


def test_429_waits_as_long_as_retry_after_says(server: ScriptedServer, client: LLMClient, sleeps: Recorder) -> None:
    seen: list[dict[str, str]] = []
    client.on_rate_limit = seen.append
    server.push("executor", Turn(error=ErrorSpec(status=429, message="Too many requests", type="too_many_requests_error",
                                                 headers={"retry-after": "2"})), Turn(content="ok"))
    assert client.complete(ASK).content == "ok"
    assert sleeps.waits == [2.0]
    assert statuses(server) == [429, 200]
    assert seen[0]["retry-after"] == "2" and "x-ratelimit-remaining-tokens-minute" in seen[0]
    assert "x-ratelimit-reset-requests-day" in client.last_rate_limit  # from the successful response


def test_429_honours_cerebras_reset_header(server: ScriptedServer, client: LLMClient, sleeps: Recorder) -> None:
    server.push("executor", Turn(error=ErrorSpec(status=429, headers={
        "x-ratelimit-remaining-tokens-minute": "0", "x-ratelimit-reset-tokens-minute": "7.5"})), Turn(content="ok"))
    client.complete(ASK)
    assert sleeps.waits == [7.5]


def test_5xx_is_retried_with_growing_backoff(server: ScriptedServer, client: LLMClient, sleeps: Recorder) -> None:
    server.push("executor", Turn(error=ErrorSpec(status=500)), Turn(error=ErrorSpec(status=503)), Turn(content="ok"))
    completion = client.complete(ASK)
    assert completion.content == "ok" and completion.usage.requests == 3
    assert statuses(server) == [500, 503, 200]
    assert 0.25 <= sleeps.waits[0] <= 0.5 and 0.5 <= sleeps.waits[1] <= 1.0


def test_a_cut_stream_is_retried(server: ScriptedServer, client: LLMClient, sleeps: Recorder) -> None:
    retries: list[str] = []
    server.push("executor", Turn(content="a long answer that never ends", cut_after_chunks=3), Turn(content="whole"))
    completion = client.complete(ASK, StreamCallbacks(on_retry=retries.append))
    assert completion.content == "whole"
    assert len(server.requests_for("executor")) == 2 and len(sleeps.waits) == 1
    assert len(retries) == 1


def test_an_error_inside_the_stream_is_retried(server: ScriptedServer, client: LLMClient, sleeps: Recorder) -> None:
    server.push("executor", Turn(content="partial", error=ErrorSpec(message="overloaded", in_stream=True)),
                Turn(content="ok"))
    assert client.complete(ASK).content == "ok"
    assert len(sleeps.waits) == 1


def test_an_invalid_request_inside_the_stream_is_not_retried(server: ScriptedServer, client: LLMClient,
                                                            sleeps: Recorder) -> None:
    malformed = ErrorSpec(status=400, message="tools[0] is malformed", type="invalid_request_error", in_stream=True)
    server.push("executor", Turn(error=malformed))
    with pytest.raises(ModelAPIError, match="tools\\[0\\] is malformed"):
        client.complete(ASK)
    assert sleeps.waits == []


def test_a_context_error_inside_the_stream_is_a_context_error(server: ScriptedServer, client: LLMClient) -> None:
    message = "Please reduce the length of the messages or completion. Current length is 9 while limit is 8"
    server.push("executor", Turn(error=ErrorSpec(status=400, message=message, in_stream=True)))
    with pytest.raises(ContextLengthError) as info:
        client.complete(ASK)
    assert (info.value.current, info.value.limit) == (9, 8)


def test_a_stream_without_done_is_accepted(server: ScriptedServer, client: LLMClient, sleeps: Recorder) -> None:
    server.push("executor", Turn(content="fine", send_done=False))
    assert client.complete(ASK).content == "fine"
    assert len(server.requests_for("executor")) == 1 and sleeps.waits == []


def test_context_length_400_raises_at_once(sleeps: Recorder) -> None:
    with ScriptedServer(Script(context_limit=5000, defaults={"executor": Turn(content="never")})) as server:
        with LLMClient(lambda role: settings(server), sleep=sleeps) as client, pytest.raises(ContextLengthError) as info:
            client.complete(ChatRequest(role="executor", messages=[{"role": "user", "content": "x" * 20_000}]))
        assert statuses(server) == [400] and sleeps.waits == []
    assert info.value.limit == 5000 and info.value.current is not None and info.value.current > 5000
    assert info.value.exit_code == 3


def test_openai_style_context_error_code(server: ScriptedServer, client: LLMClient) -> None:
    server.push("executor", Turn(error=ErrorSpec(status=400, code="context_length_exceeded", type="invalid_request_error",
                                                 message="This model's maximum context length is 8192 tokens. However, "
                                                         "your messages resulted in 9001 tokens.")))
    with pytest.raises(ContextLengthError) as info:
        client.complete(ASK)
    assert (info.value.current, info.value.limit) == (9001, 8192)


def test_reasoning_that_eats_the_budget_is_retried_once_with_double(server: ScriptedServer, client: LLMClient) -> None:
    server.push("executor", Turn(reasoning="hmm " * 50, content="", finish_reason="length"), Turn(content="answer"))
    completion = client.complete(ASK)
    budgets = [r.body["max_completion_tokens"] for r in server.requests_for("executor")]
    assert (completion.content, budgets) == ("answer", [1000, 2000])
    assert completion.usage.requests == 2 and completion.usage.reasoning_tokens >= 50  # both attempts counted


def test_length_retry_happens_only_once_and_stops_at_the_cap(server: ScriptedServer, sleeps: Recorder) -> None:
    starved = Turn(reasoning="hmm", content="", finish_reason="length")
    server.push("executor", starved, starved, starved)
    with LLMClient(lambda role: settings(server, max_completion_tokens=30_000)) as llm:
        completion = llm.complete(ASK)
    assert completion.finish_reason == "length"
    assert [r.body["max_completion_tokens"] for r in server.requests_for("executor")] == [30_000, 40_000]


def test_401_is_an_auth_error_naming_the_endpoint_not_the_key(server: ScriptedServer, client: LLMClient) -> None:
    server.push("executor", Turn(error=ErrorSpec(status=401, message="Wrong API Key", type="invalid_request_error")))
    with pytest.raises(AuthError) as info:
        client.complete(ASK)
    message = str(info.value)
    assert server.base_url in message and "CEREBRAS_API_KEY" in message and "sk-secret" not in message
    assert "\n" not in message and info.value.exit_code == 2
    assert statuses(server) == [401]


def test_a_refused_reasoning_effort_falls_back_to_disable_reasoning(server: ScriptedServer, client: LLMClient) -> None:
    refusal = ErrorSpec(status=422, message="Unsupported parameter", type="invalid_request_error",
                        param="reasoning_effort")
    server.push("executor", Turn(error=refusal), Turn(content="ok"), Turn(content="again"))
    off = ChatRequest(role="executor", messages=HELLO, reasoning=False)
    assert client.complete(off).content == "ok"
    assert client.complete(off).content == "again"  # the endpoint is remembered: no second refusal
    bodies = [r.body for r in server.requests_for("executor")]
    assert bodies[0].get("reasoning_effort") == "none"
    assert [(b.get("disable_reasoning"), "reasoning_effort" in b) for b in bodies[1:]] == [(True, False)] * 2


def test_other_4xx_is_a_model_api_error_with_the_servers_message(server: ScriptedServer, client: LLMClient) -> None:
    server.push("executor", Turn(error=ErrorSpec(status=404, message="Model zai-glm-9 does not exist", type="not_found")))
    with pytest.raises(ModelAPIError, match="Model zai-glm-9 does not exist") as info:
        client.complete(ASK)
    assert info.value.exit_code == 3 and statuses(server) == [404]


def test_retries_run_out(server: ScriptedServer, sleeps: Recorder) -> None:
    server.set_default("executor", Turn(error=ErrorSpec(status=503, message="down for maintenance")))
    with LLMClient(lambda role: settings(server), sleep=sleeps, policy=RetryPolicy(max_attempts=3)) as llm:
        with pytest.raises(ModelAPIError, match="failed after 3 attempts: down for maintenance") as info:
            llm.complete(ASK)
    assert info.value.exit_code == 3 and statuses(server) == [503] * 3 and len(sleeps.waits) == 2


def test_the_async_path_retries_with_the_injected_sleep(server: ScriptedServer, sleeps: Recorder) -> None:
    server.push("executor", Turn(error=ErrorSpec(status=429, headers={"retry-after-ms": "1500"})), Turn(content="ok"))
    llm = LLMClient(lambda role: settings(server), sleep=sleeps)

    async def ask() -> str:
        try:
            return (await llm.acomplete(ASK)).content
        finally:
            await llm.aclose()

    assert asyncio.run(ask()) == "ok"
    assert sleeps.waits == [1.5]


def error_chunks(status: int, type_: str) -> list[dict]:
    """One in-stream error in Cerebras' ErrorChunkResponse shape (status beside `error`) and the older one."""
    error = {"message": "bad schema", "type": type_, "param": None, "code": None}
    return [{"error": error, "status_code": status}, {"error": {**error, "status_code": status}}]


def test_an_error_chunk_is_read_alike_in_either_shape() -> None:
    official, nested = (classify(StreamError(chunk)) for chunk in error_chunks(400, "invalid_request_error"))
    assert official == nested and (official.kind, official.status, official.message) == ("fatal", 400, "bad schema")
    assert {classify(StreamError(chunk)).kind for chunk in error_chunks(503, "server_error")} == {"retry"}


def test_an_in_stream_client_error_is_not_retried(server: ScriptedServer, client: LLMClient, sleeps: Recorder) -> None:
    server.push("executor", Turn(content="par", error=ErrorSpec(status=422, message="tools[0]: invalid schema",
                                                               type="invalid_request_error", in_stream=True)))
    with pytest.raises(ModelAPIError, match=r"HTTP 422.*tools\[0\]: invalid schema"):
        client.complete(ASK)
    assert statuses(server) == [200] and sleeps.waits == []
