"""A model client that journals every call it makes (role, step, usage, answer) as it happens."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from agent.cost import Pricing
from agent.journal import Journal
from agent.reasoning import ReasoningChooser
from agent.llm.types import ChatRequest, Completion, Message, StreamCallbacks
from agent.protocols import ModelClient
from agent.redact import redact_exact

JOURNAL_TEXT_LIMIT = 20_000


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= JOURNAL_TEXT_LIMIT:
        return text
    return text[:JOURNAL_TEXT_LIMIT] + f"\n[... {len(text) - JOURNAL_TEXT_LIMIT} characters not journaled]"


class DelegatingClient:
    """Base of model-client decorators: everything not overridden goes to the wrapped client."""

    def __init__(self, inner: ModelClient):
        self.inner = inner

    def complete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        return self.inner.complete(request, callbacks)

    async def acomplete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        return await self.inner.acomplete(request, callbacks)

    def assistant_message(self, role: str, completion: Completion) -> Message:
        return self.inner.assistant_message(role, completion)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class RedactingClient(DelegatingClient):
    """Wraps a ModelClient; the exact `values` (the checkout's secrets) never leave in a request."""

    def __init__(self, inner: ModelClient, values: tuple[str, ...]):
        super().__init__(inner)
        self.values = values

    def _clean(self, request: ChatRequest) -> ChatRequest:
        return dataclasses.replace(request, messages=redact_exact(request.messages, self.values))

    def complete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        return self.inner.complete(self._clean(request), callbacks)

    async def acomplete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        return await self.inner.acomplete(self._clean(request), callbacks)


WaitListener = Callable[[str, bool], None]  # (role, True) when a request starts, (role, False) when it ends


class RecordingClient(DelegatingClient):
    """Wraps a ModelClient; each request's reasoning is decided (by `reasoning`), each completed
    call becomes a `model_call` journal event (with its reasoning setting and why, the model and
    what the call cost, by `pricing`), and `on_wait` (the terminal view) hears when each request
    starts and ends."""

    def __init__(self, inner: ModelClient, journal: Journal, pricing: Pricing | None = None,
                 reasoning: ReasoningChooser | None = None):
        super().__init__(inner)
        self.journal = journal
        self.pricing = pricing
        self.reasoning = reasoning
        self.on_wait: WaitListener | None = None

    def _waiting(self, role: str, started: bool) -> None:
        if self.on_wait is not None:
            self.on_wait(role, started)

    def _record(self, request: ChatRequest, completion: Completion) -> None:
        usage: dict[str, Any] = completion.usage.as_dict()
        priced = {} if self.pricing is None else {
            "model": self.pricing.model_of(request.role), "cost_usd": self.pricing.cost(request.role, completion.usage)}
        setting = None if request.reasoning is None else ("on" if request.reasoning else "off")
        self.journal.append(
            "model_call", role=request.role, step=request.step, reasoning_setting=setting,
            reasoning_why=request.reasoning_why, usage=usage, **priced,
            finish_reason=completion.finish_reason, content=_clip(completion.content),
            reasoning=_clip(completion.reasoning),
            tool_calls=[{"id": c.id, "name": c.name, "arguments": _clip(c.arguments)} for c in completion.tool_calls],
        )

    def _decided(self, request: ChatRequest) -> ChatRequest:
        return request if self.reasoning is None else self.reasoning.decide(request)

    def complete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        request = self._decided(request)
        self._waiting(request.role, True)
        try:
            completion = self.inner.complete(request, callbacks)
        finally:
            self._waiting(request.role, False)
        self._record(request, completion)
        return completion

    async def acomplete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        request = self._decided(request)
        self._waiting(request.role, True)
        try:
            completion = await self.inner.acomplete(request, callbacks)
        finally:
            self._waiting(request.role, False)
        self._record(request, completion)
        return completion
