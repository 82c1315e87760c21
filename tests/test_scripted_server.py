"""The scripted server, driven through the real openai SDK exactly as the model client drives it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from agent.errors import UserError
from agent.testing import ErrorSpec, Script, ScriptedServer, ToolCallSpec, Turn, UsageOverride
from agent.testing.cli import serve_command
from agent.testing.wire import split_words

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "agent" / "testing" / "scripts" / "example.json"
HELLO = [{"role": "user", "content": "hello"}]
CONTEXT_MESSAGE = ("Please reduce the length of the messages or completion. "
                   "Current length is 140000 while limit is 131072")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Script()) as running:
        yield running


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as sdk:
        yield sdk


def chat(client: openai.OpenAI, role: str = "executor", messages: list[dict[str, Any]] = HELLO,
         **kwargs: Any) -> Any:
    return client.chat.completions.create(model="zai-glm-4.7", messages=messages,
                                          extra_headers={"X-Agent-Role": role}, **kwargs)


def stream(client: openai.OpenAI, role: str = "executor", messages: list[dict[str, Any]] = HELLO) -> list[Any]:
    return list(chat(client, role, messages, stream=True))


def deltas(chunks: list[Any], field: str) -> list[Any]:
    return [getattr(c.choices[0].delta, field, None) for c in chunks
            if c.choices and getattr(c.choices[0].delta, field, None)]


def raw_stream(server: ScriptedServer, role: str) -> bytes:
    """The response body bytes as they come off the wire, without the SDK in between."""
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", method="POST",
        data=json.dumps({"model": "zai-glm-4.7", "messages": HELLO, "stream": True}).encode(),
        headers={"Content-Type": "application/json", "X-Agent-Role": role})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


# -- streaming ---------------------------------------------------------------------------------
def test_stream_sends_reasoning_and_content_token_by_token(server, client):
    server.push("executor", Turn(reasoning="Let me think it over", content="Two plus two is four"))
    chunks = stream(client)
    assert deltas(chunks, "reasoning") == ["Let ", "me ", "think ", "it ", "over"]
    assert "".join(deltas(chunks, "content")) == "Two plus two is four"
    assert len(deltas(chunks, "content")) == 5
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage.completion_tokens > 0
    assert last.usage.completion_tokens_details.reasoning_tokens == 5
    assert set(last.model_extra["time_info"]) >= {"prompt_time", "completion_time", "total_time"}


@pytest.mark.parametrize("text", ["", "one", "  lead and trail  ", "a\n\nb\tc", "   "])
def test_pieces_rejoin_to_the_exact_text(text):
    assert "".join(split_words(text)) == text


def test_reasoning_field_can_emulate_zai_and_vllm(server, client):
    server.push("executor", Turn(reasoning="hmm", content="ok", reasoning_field="reasoning_content"))
    chunks = stream(client)
    assert deltas(chunks, "reasoning_content") == ["hmm"] and deltas(chunks, "reasoning") == []


def test_tool_call_arrives_whole_in_one_chunk(server, client):
    server.push("executor", Turn(tool_calls=[ToolCallSpec(name="read_file", arguments={"path": "a.py"})]))
    chunks = stream(client)
    calls = deltas(chunks, "tool_calls")
    assert len(calls) == 1
    call = calls[0][0]
    assert (call.index, call.type, call.function.name) == (0, "function", "read_file")
    assert json.loads(call.function.arguments) == {"path": "a.py"} and call.id
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_calls_in_pieces_concatenate_by_index(server, client):
    calls = [ToolCallSpec(name="read_file", arguments={"path": "src/long/name.py"}),
             ToolCallSpec(name="search", arguments='{"pattern": "def ', id="call_x")]
    server.push("executor", Turn(tool_calls=calls, tool_call_style="pieces"))
    pieces = [call for delta in deltas(stream(client), "tool_calls") for call in delta]
    assert len(pieces) > 4
    firsts = [p for p in pieces if p.id]
    assert [(p.index, p.function.name, p.function.arguments) for p in firsts] == [
        (0, "read_file", ""), (1, "search", "")]
    assert firsts[1].id == "call_x"
    joined = {i: "".join(p.function.arguments for p in pieces if p.index == i) for i in (0, 1)}
    assert json.loads(joined[0]) == {"path": "src/long/name.py"}
    assert joined[1] == '{"pattern": "def '  # invalid JSON goes out verbatim


def test_stream_ends_with_done_unless_the_turn_says_not(server):
    server.push("executor", Turn(content="a"), Turn(content="b", send_done=False))
    assert raw_stream(server, "executor").endswith(b"data: [DONE]\n\n")
    body = raw_stream(server, "executor")
    assert b"[DONE]" not in body and b'"finish_reason":"stop"' in body


def test_error_inside_the_stream(server, client):
    server.push("executor", Turn(content="partial answer", error=ErrorSpec(
        status=503, message="The model is overloaded", type="service_unavailable", in_stream=True)))
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="The model is overloaded") as caught:
        for chunk in chat(client, stream=True):
            seen += deltas([chunk], "content")
    assert "".join(seen) == "partial answer"
    assert caught.value.type == "service_unavailable"
    line = next(part for part in raw_error_stream(server).split(b"\n\n") if b'"error"' in part)
    # Cerebras' ErrorChunkResponse: the status beside `error`, not inside it.
    assert json.loads(line.removeprefix(b"data: ")) == {"status_code": 503, "error": {
        "message": "The model is overloaded", "type": "service_unavailable", "param": None, "code": None}}


def raw_error_stream(server: ScriptedServer) -> bytes:
    server.push("executor", Turn(error=ErrorSpec(status=503, message="The model is overloaded",
                                                 type="service_unavailable", in_stream=True)))
    return raw_stream(server, "executor")


def test_cut_stream_is_a_connection_error(server, client):
    server.push("executor", Turn(content="one two three four", cut_after_chunks=3))
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in chat(client, stream=True):
            seen += deltas([chunk], "content")
    assert seen == ["one ", "two "]  # chunk 1 is the role chunk
    server.push("executor", Turn(content="non-streamed", cut_after_chunks=0))
    with pytest.raises(openai.APIConnectionError):
        chat(client)


def test_async_client_streams_too(server):
    server.push("qa", Turn(reasoning="check", content='{"verdict": "approve"}'))

    async def run() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as sdk:
            response = await sdk.chat.completions.create(
                model="zai-glm-4.7", messages=HELLO, stream=True, extra_headers={"X-Agent-Role": "qa"})
            return [chunk async for chunk in response]

    chunks = asyncio.run(run())
    assert "".join(deltas(chunks, "content")) == '{"verdict": "approve"}'


# -- non-streaming -----------------------------------------------------------------------------
def test_non_streaming_message_carries_reasoning_and_tool_calls(server, client):
    server.push("executor", Turn(reasoning="Read it first", content="Reading.", tool_calls=[
        ToolCallSpec(name="read_file", arguments="{not json")]))
    result = chat(client)
    message = result.choices[0].message
    assert message.model_extra["reasoning"] == "Read it first"
    assert message.content == "Reading."
    assert message.tool_calls[0].function.arguments == "{not json"
    assert result.choices[0].finish_reason == "tool_calls"
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_usage_override_and_finish_reason(server, client):
    server.push("executor", Turn(content="", reasoning="long", finish_reason="length",
                                 usage=UsageOverride(completion_tokens=40_000, reasoning_tokens=40_000)))
    result = chat(client)
    assert result.choices[0].finish_reason == "length"
    assert result.usage.completion_tokens == 40_000
    assert result.usage.completion_tokens_details.reasoning_tokens == 40_000


def test_models_endpoint_lists_the_model(client):
    assert [m.id for m in client.models.list()] == ["zai-glm-4.7"]


# -- errors ------------------------------------------------------------------------------------
def test_http_errors_map_to_sdk_exceptions(server, client):
    server.push("executor",
                Turn(error=ErrorSpec(status=429, message="Too many tokens", type="too_many_requests_error",
                                     code="token_quota_exceeded", headers={"retry-after": "3"})),
                Turn(error=ErrorSpec(status=500, message="Internal error")),
                Turn(error=ErrorSpec(status=400, message=CONTEXT_MESSAGE, type="invalid_request_error")))
    with pytest.raises(openai.RateLimitError) as limited:
        chat(client)
    assert limited.value.response.headers["retry-after"] == "3"
    assert limited.value.code == "token_quota_exceeded"
    assert "x-ratelimit-reset-tokens-minute" in limited.value.response.headers
    with pytest.raises(openai.InternalServerError):
        chat(client)
    with pytest.raises(openai.BadRequestError, match="Current length is 140000 while limit is 131072") as bad:
        chat(client)
    assert bad.value.body["message"] == CONTEXT_MESSAGE


def test_context_limit_answers_the_cerebras_400():
    with ScriptedServer(Script(context_limit=1000, defaults={"executor": Turn(content="ok")})) as running, \
            openai.OpenAI(base_url=running.base_url, api_key="t", max_retries=0) as sdk:
        assert chat(sdk, max_completion_tokens=500).choices[0].message.content == "ok"
        with pytest.raises(openai.BadRequestError, match=r"Current length is \d+ while limit is 1000"):
            chat(sdk, messages=[{"role": "user", "content": "x" * 4000}], max_completion_tokens=500)


def test_exhausted_script_fails_loudly(server, client):
    with pytest.raises(openai.InternalServerError, match="script exhausted for role planner") as caught:
        chat(client, "planner")
    assert caught.value.response.headers["x-should-retry"] == "false"


# -- usage, cache, rate limits -------------------------------------------------------------------
def test_cached_tokens_grow_when_a_request_extends_the_previous_one(server, client):
    server.set_default("executor", Turn(content="ok"))
    history = [{"role": "system", "content": "rules " * 400}, {"role": "user", "content": "task " * 300}]
    first = chat(client, messages=history).usage
    history += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "more " * 300}]
    second = chat(client, messages=history).usage
    assert first.prompt_tokens_details.cached_tokens == 0
    assert second.prompt_tokens > first.prompt_tokens
    cached = second.prompt_tokens_details.cached_tokens
    assert cached % 128 == 0 and first.prompt_tokens - 128 < cached <= first.prompt_tokens
    edited = [{"role": "system", "content": "Rules " * 400}, *history[1:]]
    assert chat(client, messages=edited).usage.prompt_tokens_details.cached_tokens == 0
    server.set_default("qa", Turn(content="ok"))
    assert chat(client, "qa", messages=history).usage.prompt_tokens_details.cached_tokens == 0


def test_refused_requests_are_not_charged_and_do_not_fill_the_cache(server, client):
    history = [{"role": "user", "content": "context " * 400}]
    server.push("executor", Turn(error=ErrorSpec(status=429, message="slow down")), Turn(content="ok"))
    with pytest.raises(openai.RateLimitError) as refused:
        chat(client, messages=history)
    answered = client.chat.completions.with_raw_response.create(
        model="zai-glm-4.7", messages=history, extra_headers={"X-Agent-Role": "executor"})
    assert answered.parse().usage.prompt_tokens_details.cached_tokens == 0
    before = int(refused.value.response.headers["x-ratelimit-remaining-requests-day"])
    assert int(answered.headers["x-ratelimit-remaining-requests-day"]) == before - 1


def test_rate_limit_headers_count_down(server, client):
    server.set_default("executor", Turn(content="ok"))
    first = client.chat.completions.with_raw_response.create(
        model="zai-glm-4.7", messages=HELLO, max_completion_tokens=1000, extra_headers={"X-Agent-Role": "executor"})
    second = client.chat.completions.with_raw_response.create(
        model="zai-glm-4.7", messages=HELLO, extra_headers={"X-Agent-Role": "executor"})
    remaining = [int(r.headers["x-ratelimit-remaining-requests-day"]) for r in (first, second)]
    assert remaining[0] - 1 == remaining[1]
    assert int(first.headers["x-ratelimit-remaining-tokens-minute"]) < 1_000_000 - 1000
    for name in ("limit-requests-day", "limit-tokens-minute", "reset-requests-day", "reset-tokens-minute"):
        assert f"x-ratelimit-{name}" in first.headers


# -- routing, recording, responders --------------------------------------------------------------
def test_roles_route_to_their_own_queues_and_defaults(server, client):
    server.push("planner", Turn(content="plan 1"), Turn(content="plan 2"))
    server.set_default("qa", Turn(content="approve"))
    server.push("default", Turn(content="no role header"))
    assert chat(client, "planner").choices[0].message.content == "plan 1"
    assert chat(client, "qa").choices[0].message.content == "approve"
    assert chat(client, "planner").choices[0].message.content == "plan 2"
    assert chat(client, "qa").choices[0].message.content == "approve"
    plain = client.chat.completions.create(model="zai-glm-4.7", messages=HELLO)
    assert plain.choices[0].message.content == "no role header"
    assert [r.role for r in server.requests] == ["planner", "qa", "planner", "qa", "default"]
    assert server.pending("planner") == 0


def test_requests_are_recorded_with_headers_bodies_and_timings(server, client):
    server.push("executor", Turn(content="slow", delay_s=0.2), Turn(content="fast", chunk_delay_s=0.01))
    chat(client, temperature=1.0, extra_body={"clear_thinking": False})
    stream(client)
    slow, fast = server.requests_for("executor")
    assert slow.path == "/v1/chat/completions" and slow.status == 200
    assert slow.headers["x-agent-role"] == "executor" and slow.headers["authorization"] == "Bearer test"
    assert slow.body["clear_thinking"] is False and slow.body["messages"] == HELLO
    assert slow.ended - slow.started >= 0.2
    assert slow.ended <= fast.started and fast.body["stream"] is True


def test_responder_answers_from_what_was_sent(server, client):
    def critic(body: dict[str, Any], role: str) -> Turn:
        approve = "+fixed" in body["messages"][-1]["content"]
        return Turn(content=json.dumps({"verdict": "approve" if approve else "request_changes", "role": role}))

    server.set_responder("reviewer", critic)
    server.push("reviewer", Turn(content="queued first"))
    assert chat(client, "reviewer").choices[0].message.content == "queued first"
    verdict = chat(client, "reviewer", [{"role": "user", "content": "diff: -bug"}]).choices[0].message.content
    assert json.loads(verdict) == {"verdict": "request_changes", "role": "reviewer"}
    verdict = chat(client, "reviewer", [{"role": "user", "content": "diff: +fixed"}]).choices[0].message.content
    assert json.loads(verdict)["verdict"] == "approve"


def test_a_failing_responder_is_a_loud_500(server, client):
    server.set_responder("qa", lambda body, role: 1 / 0)
    with pytest.raises(openai.InternalServerError, match="responder for role qa raised ZeroDivisionError"):
        chat(client, "qa")


def test_critics_are_answered_concurrently(server):
    critics = ("reviewer", "qa", "security", "performance")
    for critic in critics:
        server.push(critic, Turn(content=f'{{"verdict": "approve", "critic": "{critic}"}}', delay_s=0.3))

    async def gate() -> list[str]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as sdk:
            answers = await asyncio.gather(*(sdk.chat.completions.create(
                model="zai-glm-4.7", messages=HELLO, extra_headers={"X-Agent-Role": c}) for c in critics))
            return [json.loads(a.choices[0].message.content)["critic"] for a in answers]

    assert asyncio.run(gate()) == list(critics)
    records = server.requests
    assert max(r.started for r in records) < min(r.ended for r in records)  # all four in flight at once


def test_close_is_prompt_with_idle_connections_and_pending_delays(server, client):
    server.push("executor", Turn(content="warm"), Turn(content="never sent", delay_s=30))
    chat(client)  # leaves an idle keep-alive connection open
    failures: list[BaseException] = []

    def waiting_call() -> None:
        try:
            with openai.OpenAI(base_url=server.base_url, api_key="t", max_retries=0) as other:
                chat(other)
        except openai.APIConnectionError as exc:
            failures.append(exc)

    caller = threading.Thread(target=waiting_call)
    caller.start()
    while len(server.requests) < 2:
        time.sleep(0.01)
    started = time.monotonic()
    server.close()
    caller.join(10)
    assert time.monotonic() - started < 5  # not the 30 s delay
    assert len(failures) == 1 and server.requests[1].status == 0


def test_a_bug_in_the_server_surfaces_when_it_closes():
    running = ScriptedServer(Script(defaults={"default": Turn(content="ok")}), on_request=lambda r: 1 / 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        with running, openai.OpenAI(base_url=running.base_url, api_key="t", max_retries=0) as sdk:
            sdk.chat.completions.create(model="zai-glm-4.7", messages=HELLO)


# -- script files and the command line -----------------------------------------------------------
def test_script_files_load_from_json_and_yaml(tmp_path):
    assert Script.load(EXAMPLE).turns["executor"][0].tool_calls[0].name == "read_file"
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("turns:\n  planner:\n    - content: hi\ndefaults:\n  qa: {content: ok}\n")
    assert Script.load(yaml_file).defaults["qa"].content == "ok"


@pytest.mark.parametrize(("text", "problem"), [
    ('{"turns": {"executor": [{"conent": "typo"}]}}', "turns.executor.0.conent"),
    ('{"turns": {"executor": [{"tool_call_style": "bits"}]}}', "tool_call_style"),
    ('{"turns": ', "not JSON"),
])
def test_bad_script_files_name_the_file_and_the_problem(tmp_path, text, problem):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UserError, match="bad.json") as caught:
        Script.load(path)
    assert problem in str(caught.value)
    with pytest.raises(UserError, match="cannot read script file"):
        Script.load(tmp_path / "missing.json")


def test_command_line_serves_a_script_until_terminated(tmp_path):
    record = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "scripted-server", str(EXAMPLE), "--record", str(record)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    try:
        line = proc.stdout.readline()
        assert line.startswith("scripted server on http://127.0.0.1:") and "scripted model" in line
        base_url = line.split()[3]
        with openai.OpenAI(base_url=base_url, api_key="t", max_retries=0) as sdk:
            assert json.loads(chat(sdk, "planner").choices[0].message.content)["steps"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    recorded = json.loads(record.read_text().splitlines()[0])
    assert recorded["role"] == "planner" and recorded["body"]["messages"] == HELLO
    assert recorded["headers"]["authorization"] == "<redacted>"
    assert "planner POST /v1/chat/completions 200" in err


def test_command_line_refuses_a_busy_port(server):
    with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        serve_command(EXAMPLE, port=server.port, record=None)


def test_module_entry_point_stops_cleanly_on_ctrl_c(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "agent.testing", str(EXAMPLE), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = proc.stdout.readline().split()[3]
        with urllib.request.urlopen(f"{base_url}/models", timeout=5) as response:
            assert json.load(response)["data"][0]["id"] == "zai-glm-4.7"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err


def test_module_entry_point_reports_a_bad_script_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("turns: [1, 2]\n")
    proc = subprocess.run([sys.executable, "-m", "agent.testing", str(bad)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.startswith("agent: invalid script file") and "bad.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the official Cerebras SDK reads the scripted server ----------------------------------------
def test_the_official_cerebras_sdk_reads_every_answer_and_error(server):
    from cerebras.cloud.sdk import Cerebras, InternalServerError

    server.push("executor", Turn(reasoning="Think first", content="Two words"),
                Turn(reasoning="Streamed thought", content="streamed answer"),
                Turn(content="partial", error=ErrorSpec(status=503, message="The model is overloaded",
                                                        type="service_unavailable", in_stream=True)))
    with Cerebras(base_url=server.url, api_key="test", max_retries=0) as sdk:  # warms its connection first
        ask = dict(model="zai-glm-4.7", messages=HELLO, extra_headers={"X-Agent-Role": "executor"})
        whole = sdk.chat.completions.create(**ask)
        chunks = list(sdk.chat.completions.create(**ask, stream=True))
        with pytest.raises(InternalServerError) as caught:
            list(sdk.chat.completions.create(**ask, stream=True))
    assert whole.choices[0].message.content == "Two words" and whole.choices[0].message.reasoning == "Think first"
    assert "".join(c.choices[0].delta.reasoning or "" for c in chunks if c.choices) == "Streamed thought"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed answer"
    assert chunks[-1].usage.completion_tokens > 0 and chunks[-1].time_info is not None
    # The SDK reads the status beside `error` (its ErrorChunkResponse), and so raises the right class.
    assert caught.value.status_code == 503 and "The model is overloaded" in str(caught.value)
    warming = [r for r in server.requests if r.path == "/v1/tcp_warming"]
    assert [(r.method, r.status) for r in warming] == [("GET", 200)]
