"""Plain records exchanged between the model client and its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Role = str  # planner, executor, reviewer, qa, security, performance, or a custom critic's name
Message = dict[str, Any]  # one OpenAI chat message, exactly as it goes on the wire


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # the raw JSON text as the model wrote it; parsing is the caller's job


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    first_token_seconds: float = 0.0  # summed time to first token, for averages

    def add(self, other: "Usage") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int | float]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class Completion:
    content: str
    reasoning: str | None
    tool_calls: list[ToolCall]
    finish_reason: str
    usage: Usage
    # Provider-specific extras that must travel back unmodified (OpenRouter's reasoning_details).
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChatRequest:
    role: Role
    messages: list[Message]
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None
    reasoning: bool | None = None  # None: chosen by the role's reasoning mode (see agent.reasoning)
    reasoning_why: str | None = None  # why reasoning is on or off for this request, for the journal
    # The caller's reason to think this turn (a failing test run, the critics' findings): with
    # reasoning = "auto" it turns reasoning on whatever the step's label.
    wants_reasoning: str | None = None
    preserve_thinking: bool = False  # send earlier reasoning back (clear_thinking: false)
    max_completion_tokens: int | None = None  # None: the role's configured budget
    step: str | None = None  # usage is accounted per role and per step


@dataclass
class StreamCallbacks:
    on_reasoning: Callable[[str], None] | None = None
    on_text: Callable[[str], None] | None = None
    on_tool_call: Callable[[ToolCall], None] | None = None
    # A retry is starting (the reason in one line): text and reasoning already streamed are void.
    on_retry: Callable[[str], None] | None = None


FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


Provider = Literal["cerebras", "zai", "vllm", "openrouter", "openai"]
# How earlier reasoning goes back to the model: folded into content as GLM's `<think>…</think>`
# (Cerebras), in `reasoning_content` (Z.ai, vLLM/SGLang), as `reasoning_details` (OpenRouter), or not.
Carrier = Literal["think_in_content", "reasoning_content", "reasoning_details", "none"]


@dataclass(frozen=True)
class RequestLimits:
    """How long one model request may take, and how many times a failing one is tried."""

    connect_s: float = 10.0  # to open the connection
    first_token_s: float = 120.0  # from sending the request to its first streamed event
    idle_s: float = 60.0  # between two streamed events (keep-alive comments do not count)
    min_tokens_per_s: float = 20.0  # the slowest output speed accepted: sizes the total deadline
    attempts: int = 6  # tries of one request, the first included

    def total_s(self, budget: int) -> float:
        """The whole request's deadline for a `budget` of completion tokens."""
        return self.first_token_s + budget / self.min_tokens_per_s


@dataclass(frozen=True)
class RoleSettings:
    """Everything the client needs to call the model for one role, already resolved from config."""

    model: str
    base_url: str
    api_key: str | None = field(repr=False)  # never in a repr, log line or traceback
    provider: Provider
    reasoning: bool  # reasoning on for this role unless a request says otherwise
    max_completion_tokens: int  # never above 40,000
    temperature: float | None  # at most one of temperature/top_p differs from its default
    top_p: float | None
    carrier: Carrier | None = None  # None: the provider profile's own
    limits: RequestLimits = field(default_factory=RequestLimits)
