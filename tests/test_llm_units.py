"""Pure parts of the model client: retry decisions, header parsing, stream assembly, profiles, the ledger."""

from __future__ import annotations

import json
import threading
from email.utils import format_datetime
from datetime import datetime, timezone

import pytest

from agent.errors import AuthError, ContextLengthError, ModelAPIError
from agent.llm.profiles import PROFILES, profile_for
from agent.llm.retry import Attempts, Endpoint, Fault, RetryPolicy, header_delay, parse_context_length
from agent.llm.stream import StreamAssembler, merge_details
from agent.llm.types import Completion, StreamCallbacks, ToolCall, Usage
from agent.llm.usage import UsageLedger


def test_context_length_messages_are_parsed() -> None:
    cerebras = "Please reduce the length of the messages or completion. Current length is 140000 while limit is 131072"
    assert parse_context_length(cerebras) == (140000, 131072)
    openai_msg = ("This model's maximum context length is 8192 tokens. However, your messages resulted in "
                  "9000 tokens. Please reduce the length of the messages.")
    assert parse_context_length(openai_msg, "context_length_exceeded") == (9000, 8192)
    assert parse_context_length("too long", "context_length_exceeded") == (None, None)
    assert parse_context_length("model not found") is None


def test_retry_headers_in_order_of_precedence() -> None:
    assert header_delay({"retry-after-ms": "1500", "retry-after": "9"}, 429) == 1.5
    assert header_delay({"retry-after": "3"}, 503) == 3.0
    when = datetime(2030, 1, 1, 0, 0, 10, tzinfo=timezone.utc)
    assert header_delay({"retry-after": format_datetime(when, usegmt=True)}, 429,
                        now=lambda: when.timestamp() - 7) == pytest.approx(7.0)
    assert header_delay({}, 500) is None


def test_cerebras_reset_headers_pick_the_exhausted_limit() -> None:
    headers = {"x-ratelimit-reset-requests-day": "33011.5", "x-ratelimit-reset-tokens-minute": "11.2",
               "x-ratelimit-remaining-requests-day": "100", "x-ratelimit-remaining-tokens-minute": "0"}
    assert header_delay(headers, 429) == pytest.approx(11.2)
    assert header_delay(headers | {"x-ratelimit-remaining-requests-day": "0",
                                   "x-ratelimit-remaining-tokens-minute": "5000"}, 429) == pytest.approx(33011.5)
    assert header_delay({"x-ratelimit-reset-tokens-minute": "4"}, 429) == 4.0
    assert header_delay({"x-ratelimit-reset-tokens-minute": "4"}, 500) is None  # resets only matter on 429


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=30.0)
    assert [policy.backoff(n, 0.999999) for n in (1, 2, 3)] == pytest.approx([0.5, 1.0, 2.0])
    assert policy.backoff(1, 0.0) == 0.25
    assert policy.backoff(20, 0.999999) == pytest.approx(30.0)


def test_attempts_turn_faults_into_waits_or_errors() -> None:
    attempts = Attempts(RetryPolicy(max_attempts=2), Endpoint("https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",)),
                        rand=lambda: 0.0)
    attempts.count = 1
    assert attempts.wait_after(Fault("retry", "busy", 503)) == 0.25
    with pytest.raises(AuthError, match=r"api.cerebras.ai/v1 refused the credentials \(HTTP 401\); check CEREBRAS_API_KEY"):
        attempts.wait_after(Fault("auth", "bad key sk-123", 401))
    with pytest.raises(ContextLengthError) as info:
        attempts.wait_after(Fault("context", "too long", 400, current=10, limit=5))
    assert (info.value.current, info.value.limit) == (10, 5)
    with pytest.raises(ModelAPIError, match="model not found"):
        attempts.wait_after(Fault("fatal", "model not found", 404))
    with pytest.raises(ModelAPIError, match="rate limited for another 33011s"):
        attempts.wait_after(Fault("retry", "slow down", 429, {"retry-after": "33011"}))
    attempts.count = 2
    with pytest.raises(ModelAPIError, match="failed after 2 attempts"):
        attempts.wait_after(Fault("retry", "busy", 503))


def _chunk(delta: dict, finish: str | None = None, **extra: object) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def test_assembler_fires_callbacks_and_assembles_pieces_by_index() -> None:
    seen: list[object] = []
    callbacks = StreamCallbacks(on_reasoning=lambda t: seen.append(("r", t)), on_text=lambda t: seen.append(("t", t)),
                                on_tool_call=lambda c: seen.append(c))
    ticks = iter([1.0, 1.5, 2.0, 3.0])
    assembler = StreamAssembler(profile_for("vllm"), callbacks, lambda: next(ticks), started=0.5)
    for chunk in [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"reasoning_content": "think"}),
        _chunk({"content": "ok"}),
        _chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "read_file", "arguments": '{"pa'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'th": "x"}'}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "list_files", "arguments": "{}"}}]}),
        _chunk({}, "tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                                  "prompt_tokens_details": {"cached_tokens": 4},
                                  "completion_tokens_details": {"reasoning_tokens": 2}}},
    ]:
        assembler.feed(chunk)
    completion = assembler.finish()
    first, second = ToolCall("a", "read_file", '{"path": "x"}'), ToolCall("b", "list_files", "{}")
    assert seen == [("r", "think"), ("t", "ok"), first, second]  # the first call fires when index 1 starts
    assert completion.tool_calls == [first, second]
    assert (completion.reasoning, completion.content, completion.finish_reason) == ("think", "ok", "tool_calls")
    assert completion.usage == Usage(requests=1, prompt_tokens=10, completion_tokens=5, reasoning_tokens=2,
                                     cached_tokens=4, seconds=1.0, first_token_seconds=0.5)


def test_openrouter_reasoning_details_are_merged_into_extras() -> None:
    assembler = StreamAssembler(profile_for("openrouter"), None, lambda: 1.0, started=0.0)
    assembler.feed(_chunk({"reasoning": "a", "reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "a"}]}))
    assembler.feed(_chunk({"reasoning": "b", "reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "b"}]}))
    assembler.feed(_chunk({"content": "x"}, "stop"))
    completion = assembler.finish()
    assert completion.reasoning == "ab"
    assert completion.extras == {"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "ab"}]}
    assert merge_details([{"type": "reasoning.encrypted", "data": "zz"}]) == [{"type": "reasoning.encrypted", "data": "zz"}]


@pytest.mark.parametrize("provider, reasoning, preserve, expected", [
    ("cerebras", False, False, {"reasoning_effort": "none"}),
    ("cerebras", False, True, {"reasoning_effort": "none", "clear_thinking": False}),
    ("cerebras", True, True, {"clear_thinking": False}),
    ("cerebras", True, False, {}),
    ("zai", False, False, {"thinking": {"type": "disabled"}}),
    ("zai", False, True, {"thinking": {"type": "disabled", "clear_thinking": False}}),
    ("zai", True, True, {"thinking": {"type": "enabled", "clear_thinking": False}}),
    ("vllm", False, False, {"chat_template_kwargs": {"enable_thinking": False}}),
    ("vllm", True, True, {"chat_template_kwargs": {"clear_thinking": False}}),
    ("vllm", False, True, {"chat_template_kwargs": {"clear_thinking": False, "enable_thinking": False}}),
    ("openrouter", False, False, {"reasoning": {"enabled": False}}),
    ("openrouter", True, True, {}),
    ("openai", False, True, {}),
])
def test_profile_request_keys(provider: str, reasoning: bool, preserve: bool, expected: dict) -> None:
    assert profile_for(provider).extra_body(reasoning=reasoning, preserve=preserve) == expected


def test_cerebras_falls_back_to_the_older_disable_reasoning_switch() -> None:
    cerebras = profile_for("cerebras")
    assert cerebras.extra_body(reasoning=False, preserve=True, switch=1) == \
        {"clear_thinking": False, "disable_reasoning": True}
    assert cerebras.describe_off() == 'reasoning_effort: "none", then disable_reasoning: true'
    assert len(profile_for("zai").off_switches) == 1 and profile_for("openai").off_switches == ()


def test_assistant_messages_are_deterministic_and_provider_shaped() -> None:
    completion = Completion(content="done", reasoning="because", finish_reason="tool_calls", usage=Usage(),
                            tool_calls=[ToolCall("call_1", "read_file", '{"path": "a.py"}')],
                            extras={"reasoning_details": [{"type": "reasoning.text", "text": "because"}]})
    fields = {name: [k for k in profile.assistant_message(completion) if k not in ("role", "content", "tool_calls")]
              for name, profile in PROFILES.items()}
    assert fields == {"cerebras": [], "zai": ["reasoning_content"], "vllm": ["reasoning_content"],
                      "sglang": ["reasoning_content"], "openrouter": ["reasoning_details"], "openai": []}
    message = profile_for("cerebras").assistant_message(completion)
    assert list(message) == ["role", "content", "tool_calls"]
    assert message["content"] == "<think>because</think>done"  # Cerebras' reasoning guide: GLM's raw format
    silent = Completion(content="done", reasoning=None, finish_reason="stop", usage=Usage(), tool_calls=[])
    assert profile_for("cerebras").assistant_message(silent)["content"] == "done"
    override = profile_for("cerebras").assistant_message(completion, "reasoning_content")
    assert override["content"] == "done" and override["reasoning_content"] == "because"
    same = [json.dumps(profile_for("zai").assistant_message(completion)) for _ in range(3)]
    assert len(set(same)) == 1
    with pytest.raises(KeyError, match="known: cerebras"):
        profile_for("anthropic")


def test_ledger_totals_by_role_and_step_across_threads() -> None:
    ledger = UsageLedger()

    def record(role: str, step: str | None) -> None:
        for _ in range(100):
            ledger.record(role, step, Usage(requests=1, prompt_tokens=10, completion_tokens=2, cached_tokens=1,
                                            reasoning_tokens=1, seconds=0.5, first_token_seconds=0.1))

    threads = [threading.Thread(target=record, args=args) for args in
               [("executor", "1"), ("executor", "2"), ("reviewer", "1"), ("planner", None)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ledger.by_role()["executor"]["prompt_tokens"] == 2000
    assert ledger.by_role()["reviewer"]["requests"] == 100
    assert ledger.by_step()["1"]["completion_tokens"] == 400
    assert ledger.by_step()["-"]["requests"] == 100
    assert ledger.by_role_and_step()["1"]["reviewer"]["cached_tokens"] == 100
    total = ledger.total()
    assert (total["requests"], total["prompt_tokens"], total["reasoning_tokens"]) == (400, 4000, 400)
    assert total["seconds"] == pytest.approx(200.0)
