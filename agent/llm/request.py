"""One model call's state across its attempts: the SDK arguments, the budget, the retry decisions.

Shared by the sync and async paths of the client so both retry exactly alike.
"""

from __future__ import annotations

from typing import Any, Callable

from agent.llm.profiles import Profile
from agent.llm.retry import Attempts, Endpoint, Fault, RetryPolicy, classify, rate_limit_headers
from agent.llm.types import ChatRequest, Completion, RoleSettings, Usage

MAX_COMPLETION_TOKENS = 40_000
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 0.95


class CallState:
    """Everything that changes between the attempts of one `complete` call."""

    def __init__(self, request: ChatRequest, settings: RoleSettings, profile: Profile,
                 policy: RetryPolicy, *, started: float, refuses_disable: bool = False):
        self.request = request
        self.settings = settings
        self.profile = profile
        self.started = started
        self.attempts = Attempts(policy, Endpoint(settings.base_url, profile.key_env))
        reasoning = settings.reasoning if request.reasoning is None else request.reasoning
        self.extra_body = profile.extra_body(reasoning=reasoning, preserve=request.preserve_thinking)
        self.fallback_used = False
        if refuses_disable:
            self._use_fallback()
        wanted = request.max_completion_tokens or settings.max_completion_tokens
        self.budget = max(1, min(wanted, MAX_COMPLETION_TOKENS))
        self.length_retried = False
        self.spent = Usage()  # tokens of attempts that completed but were not the answer

    def body(self) -> dict[str, Any]:
        """The JSON body of the next attempt, exactly as it goes on the wire.

        The client posts it as is rather than through `chat.completions.create`, whose typed
        parameters the SDK re-walks recursively on every call: ~17 ms for an 80-message history,
        against 0.5 ms to serialise it. Our messages are plain JSON already.
        """
        request, settings = self.request, self.settings
        body: dict[str, Any] = {
            "model": settings.model,
            "messages": request.messages,
            "stream": True,
            "max_completion_tokens": self.budget,
            "temperature": DEFAULT_TEMPERATURE if settings.temperature is None else settings.temperature,
            "top_p": DEFAULT_TOP_P if settings.top_p is None else settings.top_p,
        }
        if self.profile.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = request.tools
        if request.response_format is not None:
            body["response_format"] = request.response_format
        return {**body, **self.extra_body}

    def options(self) -> dict[str, Any]:
        """The SDK request options of the next attempt: the role header and the timeout."""
        return {"headers": {"X-Agent-Role": self.request.role}, "timeout": self.settings.timeout_s}

    def begin_attempt(self) -> None:
        self.attempts.count += 1

    def wait_after(self, exc: BaseException, on_rate_limit: Callable[[dict[str, str]], None] | None) -> float:
        """Seconds before the next attempt after `exc`; raises the product's error when it ends the call."""
        fault = classify(exc)
        _report_rate_limit(fault, on_rate_limit)
        if fault.kind == "refused_param" and not self.fallback_used and self._use_fallback():
            return 0.0
        return self.attempts.wait_after(fault)

    def _use_fallback(self) -> bool:
        fallback = self.profile.reasoning_off_fallback(self.extra_body)
        if fallback is None:
            return False
        self.extra_body, self.fallback_used = fallback, True
        return True

    def retry_for_length(self, completion: Completion) -> bool:
        """True (and the budget raised) when reasoning ate the whole budget: retried once, doubled."""
        empty = not completion.content.strip() and not completion.tool_calls
        if completion.finish_reason != "length" or not empty or self.length_retried:
            return False
        bigger = min(self.budget * 2, MAX_COMPLETION_TOKENS)
        if bigger <= self.budget:
            return False
        self.length_retried, self.budget = True, bigger
        self.spent.add(completion.usage)
        return True

    def final(self, completion: Completion, now: float) -> Completion:
        """`completion` with its usage covering every attempt of this call."""
        usage = Usage()
        usage.add(self.spent)
        usage.add(completion.usage)
        usage.requests = self.attempts.count
        usage.seconds = now - self.started
        usage.first_token_seconds = completion.usage.first_token_seconds
        completion.usage = usage
        return completion


def _report_rate_limit(fault: Fault, hook: Callable[[dict[str, str]], None] | None) -> None:
    if hook is not None and fault.headers:
        headers = rate_limit_headers(fault.headers)
        if headers:
            hook(headers)
