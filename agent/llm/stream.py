"""Assemble a streamed chat completion from its chunks (as plain dicts), firing callbacks as it goes.

Tool calls are assembled by `index`, whether a server sends each whole in one chunk (Cerebras)
or in pieces (`function.arguments` concatenated; id and name from the first piece).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from agent.llm import leak
from agent.llm.profiles import Profile
from agent.llm.retry import StreamCut, StreamError
from agent.llm.types import Completion, StreamCallbacks, ToolCall, Usage


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def done(self, index: int) -> ToolCall:
        return ToolCall(id=self.id or f"call_{index}", name=self.name, arguments="".join(self.arguments))


class StreamAssembler:
    """Feed it every chunk of one response, then call `finish()` for the Completion."""

    def __init__(self, profile: Profile, callbacks: StreamCallbacks | None,
                 clock: Callable[[], float], started: float):
        self.profile = profile
        self.callbacks = callbacks or StreamCallbacks()
        self._clock = clock
        self._started = started
        self.first_token_at: float | None = None
        self.reasoning_field: str | None = None  # which delta field carried reasoning
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._calls: dict[int, _PendingCall] = {}
        self._open_index: int | None = None
        self._extras: dict[str, list[Any]] = {}
        self.finish_reason: str | None = None
        self.usage = Usage()

    def feed(self, chunk: dict[str, Any]) -> None:
        """Take one chunk: deltas to callbacks, tool-call pieces to their index, usage if present.
        An error event raises StreamError."""
        if chunk.get("error"):
            raise StreamError(chunk)
        if chunk.get("usage"):
            self.usage = usage_from(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            self._feed_delta(choice.get("delta") or {})
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def _feed_delta(self, delta: dict[str, Any]) -> None:
        for name in self.profile.reasoning_fields:
            piece = delta.get(name)
            if isinstance(piece, str) and piece:
                self.reasoning_field = self.reasoning_field or name
                self._token()
                self._reasoning.append(piece)
                _call(self.callbacks.on_reasoning, piece)
                break
        for name in self.profile.extras_fields:
            if delta.get(name):
                self._extras.setdefault(name, []).extend(_as_list(delta[name]))
        text = delta.get("content")
        if isinstance(text, str) and text:
            self._token()
            self._content.append(text)
            _call(self.callbacks.on_text, text)
        for piece in delta.get("tool_calls") or []:
            self._token()
            self._feed_tool_call(piece)

    def _feed_tool_call(self, piece: dict[str, Any]) -> None:
        index = piece.get("index", len(self._calls))
        if self._open_index is not None and index != self._open_index:
            self._close(self._open_index)
        self._open_index = index
        pending = self._calls.setdefault(index, _PendingCall())
        function = piece.get("function") or {}
        pending.id = pending.id or piece.get("id") or ""
        pending.name = pending.name or function.get("name") or ""
        if function.get("arguments"):
            pending.arguments.append(function["arguments"])

    def _close(self, index: int) -> None:
        _call(self.callbacks.on_tool_call, self._calls[index].done(index))

    def _token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = self._clock()

    def finish(self) -> Completion:
        """The completed message; raises StreamCut when the stream ended without a finish_reason."""
        if self.finish_reason is None:
            raise StreamCut("the stream ended before the answer was complete")
        if self._open_index is not None:
            self._close(self._open_index)
        calls = [self._calls[i].done(i) for i in sorted(self._calls)]
        cleaned = leak.clean("".join(self._content), "".join(self._reasoning) or None, calls)
        if not calls:
            for call in cleaned.tool_calls:
                _call(self.callbacks.on_tool_call, call)
        now = self._clock()
        self.usage.requests = 1
        self.usage.seconds = now - self._started
        self.usage.first_token_seconds = (self.first_token_at or now) - self._started
        finish_reason = "tool_calls" if cleaned.tool_calls and not calls else self.finish_reason
        return Completion(content=cleaned.content, reasoning=cleaned.reasoning, tool_calls=cleaned.tool_calls,
                          finish_reason=finish_reason, usage=self.usage, extras=self._finished_extras())

    def _finished_extras(self) -> dict[str, Any]:
        return {name: merge_details(items) for name, items in self._extras.items()}


def usage_from(raw: dict[str, Any]) -> Usage:
    """Our Usage from an OpenAI usage object (cached and reasoning tokens from their details)."""
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("prompt_tokens") or 0,
        completion_tokens=raw.get("completion_tokens") or 0,
        cached_tokens=prompt_details.get("cached_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )


def merge_details(items: list[Any]) -> list[Any]:
    """Streamed reasoning_details pieces merged per `index`: their text fields concatenated."""
    merged: dict[Any, dict[str, Any]] = {}
    loose: list[Any] = []
    for item in items:
        if not isinstance(item, dict) or "index" not in item:
            loose.append(item)
            continue
        target = merged.setdefault(item["index"], {})
        for key, value in item.items():
            if isinstance(value, str) and isinstance(target.get(key), str) and key in ("text", "summary", "data"):
                target[key] += value
            else:
                target.setdefault(key, value)
    return [*merged.values(), *loose] if merged else loose


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _call(callback: Callable[[Any], None] | None, value: Any) -> None:
    if callback is not None:
        callback(value)
