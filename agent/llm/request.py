"""One model call's state across its attempts: the SDK arguments, the budget, the retry decisions.

Shared by the sync and async paths of the client so both retry exactly alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import httpx2

from agent.llm.profiles import Profile
from agent.llm.retry import Attempts, Endpoint, Fault, RetryPolicy, classify, rate_limit_headers
from agent.llm.types import ChatRequest, Completion, RoleSettings, Usage


class CallState:
    """Everything that changes between the attempts of one `complete` call."""

    def __init__(self, request: ChatRequest, settings: RoleSettings, profile: Profile,
                 policy: RetryPolicy, *, started: float, switch: int = 0):
        self.request = request
        self.settings = settings
        self.profile = profile
        self.started = started
        policy = dataclasses.replace(policy, max_attempts=min(policy.max_attempts, settings.limits.attempts))
        self.attempts = Attempts(policy, Endpoint(settings.base_url, profile.key_env))
        reasoning = settings.reasoning if request.reasoning is None else request.reasoning
        self.reasoning_off = not reasoning and bool(profile.off_switches)
        self.switch = switch  # which of the profile's off-switches this call uses
        self.extra_body = profile.extra_body(reasoning=reasoning, preserve=request.preserve_thinking, switch=switch)
        wanted = request.max_completion_tokens or settings.max_completion_tokens
        self.budget = max(1, min(wanted, profile.max_completion_tokens))
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
            "temperature": self.profile.temperature if settings.temperature is None else settings.temperature,
            "top_p": self.profile.top_p if settings.top_p is None else settings.top_p,
        }
        if self.profile.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = request.tools
        # A strict schema goes only to a server that enforces it; elsewhere the answer is parsed tolerantly.
        if request.response_format is not None and self.profile.strict_json_schema:
            body["response_format"] = request.response_format
        return {**body, **self.extra_body}

    def options(self) -> dict[str, Any]:
        """The SDK request options of the next attempt: the role header, the HTTP timeouts, and
        error events handed over as chunks (the SDK would drop the `status_code` beside `error`)."""
        limits = self.settings.limits
        # The read timeout only bounds a silent socket; the client's watchdog bounds the rest.
        timeout = httpx2.Timeout(max(limits.first_token_s, limits.idle_s), connect=limits.connect_s)
        return {"headers": {"X-Agent-Role": self.request.role}, "timeout": timeout, "stream_mode": "events"}

    def deadline_s(self) -> float:
        """Seconds this attempt may take in all, sized from its completion budget."""
        return self.settings.limits.total_s(self.budget)

    def begin_attempt(self) -> None:
        self.attempts.count += 1

    def wait_after(self, exc: BaseException, on_rate_limit: Callable[[dict[str, str]], None] | None) -> float:
        """Seconds before the next attempt after `exc`; raises the product's error when it ends the call."""
        fault = classify(exc)
        _report_rate_limit(fault, on_rate_limit)
        if self._refused_switch(fault) and self.next_switch():
            return 0.0
        return self.attempts.wait_after(fault)

    def _refused_switch(self, fault: Fault) -> bool:
        """Whether the server refused the off-switch itself (400/422 naming one of its keys)."""
        if not self.reasoning_off or fault.status not in (400, 422):
            return False
        names = self.profile.switch_names(self.switch)
        return fault.param in names or any(name in fault.message for name in names)

    def next_switch(self) -> bool:
        """Use the profile's next off-switch for the rest of this call; False when there is none."""
        if not self.reasoning_off or self.switch + 1 >= len(self.profile.off_switches):
            return False
        self.switch += 1
        self.extra_body = self.profile.extra_body(reasoning=False, preserve=self.request.preserve_thinking,
                                                  switch=self.switch)
        return True

    def reasoning_ignored(self, completion: Completion) -> bool:
        """Reasoning came back although this call switched it off: the server ignored the switch."""
        return self.reasoning_off and bool(completion.reasoning or completion.usage.reasoning_tokens > 0)

    def retry_for_length(self, completion: Completion) -> bool:
        """True (and the budget raised) when reasoning ate the whole budget: retried once, doubled."""
        empty = not completion.content.strip() and not completion.tool_calls
        if completion.finish_reason != "length" or not empty or self.length_retried:
            return False
        bigger = min(self.budget * 2, self.profile.max_completion_tokens)
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
