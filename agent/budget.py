"""What a run may still spend: checked before each model request, at the most the request may use.

A request is admitted only when the run's spending so far, plus what requests still in flight may
use, plus this request's prompt (estimated) and its whole `max_completion_tokens`, stays within
`max_tokens_per_run` and, priced by the request's model, within `max_cost_usd`. Otherwise the
request is not sent: `BudgetExhausted` ends the run, resumable, as `budget_exhausted`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from agent.cost import Pricing
from agent.llm.profiles import profile_for
from agent.llm.tokens import estimate_tokens
from agent.llm.types import ChatRequest, Completion, RoleSettings, StreamCallbacks
from agent.protocols import ModelClient
from agent.recorder import DelegatingClient


class BudgetExhausted(Exception):
    """The next request could pass the run's budget; it was not sent. Not an AgentError: the run
    ends with its own status, `budget_exhausted`, and stays resumable."""

    def __init__(self, message: str, record: dict[str, Any]):
        super().__init__(message)
        self.record = record  # the journal's `budget_exhausted` event: which limit, spent, needed


@dataclass(frozen=True)
class Limits:
    max_tokens: int | None = None
    max_cost_usd: float | None = None

    def __bool__(self) -> bool:
        return self.max_tokens is not None or self.max_cost_usd is not None


@dataclass
class _Amount:
    tokens: int = 0
    cost: float = 0.0


class RunBudget:
    """The run's spending (earlier sessions' included) and the reservations of requests in flight."""

    def __init__(self, limits: Limits, pricing: Pricing, settings_for: Callable[[str], RoleSettings],
                 spent_tokens: int = 0, spent_cost: float = 0.0):
        self.limits = limits
        self.pricing = pricing
        self.settings_for = settings_for
        self._spent = _Amount(spent_tokens, spent_cost)
        self._reserved = _Amount()
        self._lock = threading.Lock()  # critics ask at once

    def most(self, request: ChatRequest) -> _Amount:
        """The most `request` may use: its prompt (estimated) and its whole completion budget."""
        settings = self.settings_for(request.role)
        completion = min(request.max_completion_tokens or settings.max_completion_tokens,
                         profile_for(settings.provider).max_completion_tokens)
        prompt = estimate_tokens(request.messages, request.tools)
        price = self.pricing.price(request.role)
        return _Amount(prompt + completion, price.cost(prompt, completion) if price is not None else 0.0)

    def admit(self, request: ChatRequest) -> _Amount:
        """Reserve what `request` may use; BudgetExhausted (nothing reserved) when it could pass a limit."""
        need = self.most(request)
        with self._lock:
            tokens = self._spent.tokens + self._reserved.tokens
            cost = self._spent.cost + self._reserved.cost
            over = self._over(tokens, cost, need, request.role)
            if over is None:
                self._reserved.tokens += need.tokens
                self._reserved.cost += need.cost
                return need
        raise BudgetExhausted(over, {"role": request.role, "step": request.step, "spent_tokens": tokens,
                                     "spent_cost_usd": round(cost, 6), "request_tokens": need.tokens,
                                     "request_cost_usd": round(need.cost, 6), "max_tokens_per_run": self.limits.max_tokens,
                                     "max_cost_usd": self.limits.max_cost_usd})

    def _over(self, tokens: int, cost: float, need: _Amount, role: str) -> str | None:
        max_tokens, max_cost = self.limits.max_tokens, self.limits.max_cost_usd
        if max_tokens is not None and tokens + need.tokens > max_tokens:
            return (f"budget reached: {tokens:,} of max_tokens_per_run {max_tokens:,} tokens used, and the next "
                    f"{role} request may use up to {need.tokens:,} more")
        if max_cost is not None and cost + need.cost > max_cost:
            return (f"budget reached: ${cost:.4f} of max_cost_usd ${max_cost:g} spent, and the next {role} request "
                    f"may cost up to ${need.cost:.4f} more")
        return None

    def settle(self, reserved: _Amount, role: str, completion: Completion | None) -> None:
        """Release a reservation; a request that was answered adds what it actually used."""
        with self._lock:
            self._reserved.tokens -= reserved.tokens
            self._reserved.cost -= reserved.cost
            if completion is not None:
                usage = completion.usage
                self._spent.tokens += usage.prompt_tokens + usage.completion_tokens
                self._spent.cost += self.pricing.cost(role, usage) or 0.0


class BudgetedClient(DelegatingClient):
    """Wraps a ModelClient; every request is admitted by the run's budget before it is sent."""

    def __init__(self, inner: ModelClient, budget: RunBudget):
        super().__init__(inner)
        self.budget = budget

    def complete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        reserved = self.budget.admit(request)
        completion = None
        try:
            completion = self.inner.complete(request, callbacks)
            return completion
        finally:
            self.budget.settle(reserved, request.role, completion)

    async def acomplete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        reserved = self.budget.admit(request)
        completion = None
        try:
            completion = await self.inner.acomplete(request, callbacks)
            return completion
        finally:
            self.budget.settle(reserved, request.role, completion)
