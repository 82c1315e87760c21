"""The Cerebras wire format as pure functions: chunks, completions, usage and rate-limit headers."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from agent.testing.script import RateLimits, ToolCallSpec, Turn

CACHE_BLOCK_TOKENS = 128  # Cerebras caches prompt prefixes in blocks of about this many tokens
PIECE_CHARS = 8  # size of tool-call argument fragments in "pieces" style


def estimate_tokens(text: str) -> int:
    """A deterministic stand-in for the tokenizer: about four characters a token."""
    return (len(text) + 3) // 4


def prompt_text(body: dict[str, Any]) -> str:
    """The request as the model sees it, tools first: what prompt tokens and the prefix cache count."""
    tools = json.dumps(body.get("tools") or [], ensure_ascii=False, separators=(",", ":"))
    messages = json.dumps(body.get("messages") or [], ensure_ascii=False, separators=(",", ":"))
    return tools + messages


def cached_tokens(previous: str | None, current: str) -> int:
    """Tokens of the prefix shared with the previous prompt, in whole cache blocks."""
    if not previous:
        return 0
    # Binary search on slice equality: string comparison runs in C, prompts are long.
    low, high = 0, min(len(previous), len(current))
    while low < high:
        mid = (low + high + 1) // 2
        if previous[:mid] == current[:mid]:
            low = mid
        else:
            high = mid - 1
    same = low
    blocks = (same // 4) // CACHE_BLOCK_TOKENS
    return min(blocks * CACHE_BLOCK_TOKENS, estimate_tokens(current))


def compute_usage(turn: Turn, prompt_tokens: int, cached: int) -> dict[str, Any]:
    """The `usage` object: computed from the turn's text, then the turn's overrides on top."""
    reasoning = turn.reasoning or ""
    args = "".join(call.arguments_text() + call.name for call in turn.tool_calls)
    counts = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": estimate_tokens(reasoning + turn.content + args),
        "cached_tokens": cached,
        "reasoning_tokens": estimate_tokens(reasoning),
        "total_tokens": None,
    }
    if turn.usage is not None:
        counts |= turn.usage.model_dump(exclude_none=True)
    total = counts["total_tokens"]
    if total is None:
        total = counts["prompt_tokens"] + counts["completion_tokens"]
    return {
        "prompt_tokens": counts["prompt_tokens"],
        "completion_tokens": counts["completion_tokens"],
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": counts["cached_tokens"]},
        "completion_tokens_details": {"reasoning_tokens": counts["reasoning_tokens"]},
    }


def time_info(started: float, first_token: float, now: float) -> dict[str, float]:
    """Cerebras' `time_info` block, from monotonic timestamps."""
    return {
        "queue_time": 0.0001,
        "prompt_time": round(max(first_token - started, 0.0), 6),
        "completion_time": round(max(now - first_token, 0.0), 6),
        "total_time": round(max(now - started, 0.0), 6),
        "created": time.time(),
    }


def split_words(text: str) -> list[str]:
    """Small pieces the way tokens stream: each word with the whitespace that follows it."""
    return re.findall(r"\s*\S+\s*|\s+", text) if text else []


@dataclass
class ResponseIds:
    """What every chunk of one response repeats."""

    completion_id: str
    model: str
    created: int

    def envelope(self, obj: str) -> dict[str, Any]:
        return {"id": self.completion_id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": "fp_scripted"}


def chunk(ids: ResponseIds, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk` with a single choice."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return ids.envelope("chat.completion.chunk") | {"choices": [choice]}


def tool_call_deltas(calls: list[ToolCallSpec], call_ids: list[str], style: str) -> list[dict[str, Any]]:
    """The `delta.tool_calls` payloads: each call whole, or id+name then argument fragments."""
    deltas: list[dict[str, Any]] = []
    for index, (call, call_id) in enumerate(zip(calls, call_ids)):
        args = call.arguments_text()
        head = {"index": index, "id": call_id, "type": "function"}
        if style == "whole":
            deltas.append(head | {"function": {"name": call.name, "arguments": args}})
            continue
        deltas.append(head | {"function": {"name": call.name, "arguments": ""}})
        for start in range(0, len(args), PIECE_CHARS):
            deltas.append({"index": index, "function": {"arguments": args[start:start + PIECE_CHARS]}})
    return deltas


def stream_deltas(turn: Turn, call_ids: list[str]) -> list[dict[str, Any]]:
    """Every delta of a streamed answer in order: role, reasoning, content, tool calls."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{turn.reasoning_field or "reasoning": piece} for piece in split_words(turn.reasoning or "")]
    deltas += [{"content": piece} for piece in split_words(turn.content)]
    deltas += [{"tool_calls": [d]} for d in tool_call_deltas(turn.tool_calls, call_ids, turn.tool_call_style)]
    return deltas


def completion(ids: ResponseIds, turn: Turn, call_ids: list[str], usage: dict[str, Any],
               timing: dict[str, float]) -> dict[str, Any]:
    """A whole non-streamed `chat.completion`."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if turn.reasoning is not None:
        message[turn.reasoning_field or "reasoning"] = turn.reasoning
    if turn.tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_text()}}
            for call, call_id in zip(turn.tool_calls, call_ids)
        ]
    choice = {"index": 0, "message": message, "finish_reason": turn.effective_finish_reason()}
    return ids.envelope("chat.completion") | {"choices": [choice], "usage": usage, "time_info": timing}


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """Cerebras' error body `{message, type, param, code}` (the openai SDK reads it as is)."""
    return {"message": message, "type": type_, "param": param, "code": code}


def rate_limit_headers(limits: RateLimits, requests_used: int, tokens_used: int) -> dict[str, str]:
    """Cerebras' `x-ratelimit-*` headers after `requests_used` requests and `tokens_used` tokens."""
    return {
        "x-ratelimit-limit-requests-day": str(limits.requests_day),
        "x-ratelimit-limit-tokens-minute": str(limits.tokens_minute),
        "x-ratelimit-remaining-requests-day": str(max(limits.requests_day - requests_used, 0)),
        "x-ratelimit-remaining-tokens-minute": str(max(limits.tokens_minute - tokens_used, 0)),
        "x-ratelimit-reset-requests-day": str(limits.reset_requests_day_s),
        "x-ratelimit-reset-tokens-minute": str(limits.reset_tokens_minute_s),
    }


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event line pair."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()
