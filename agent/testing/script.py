"""What the scripted server answers: turns per role, as pydantic models so script files validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import UserError

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
ServerProvider = Literal["cerebras", "zai", "vllm", "openrouter"]
# The delta field each provider streams reasoning in.
REASONING_FIELDS: dict[str, Literal["reasoning", "reasoning_content"]] = {
    "cerebras": "reasoning", "zai": "reasoning_content", "vllm": "reasoning_content", "openrouter": "reasoning"}
# Faults that hold a request open: no answer at all, keep-alive comments forever, reasoning forever.
Hang = Literal["silent", "keepalive", "reasoning"]
DEFAULT_MODEL = "zai-glm-4.7"


class _Strict(BaseModel):
    # A typo in a script file ("conent") must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid")


class ToolCallSpec(_Strict):
    """One tool call the model makes; `arguments` as a string is sent verbatim (may be invalid JSON)."""

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None  # None: the server numbers it (call_1, call_2, ...)

    def arguments_text(self) -> str:
        """The arguments exactly as they go on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class ErrorSpec(_Strict):
    """An API error: an HTTP status with a Cerebras error body, or an error line inside a stream."""

    status: int = 500
    message: str = "Internal server error"
    type: str = "server_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    in_stream: bool = False  # 200 and a stream that carries `data: {"error": {...}}`

    def body(self) -> dict[str, Any]:
        """The error object, Cerebras shape `{message, type, param, code}`."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}


class UsageOverride(_Strict):
    """Token counts to report instead of the computed ones; unset fields stay computed."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


class Turn(_Strict):
    """One scripted answer of the model."""

    reasoning: str | None = None
    content: str = ""
    tool_calls: list[ToolCallSpec] = Field(default_factory=list)
    finish_reason: FinishReason | None = None  # None: "tool_calls" if tool calls else "stop"
    delay_s: float = Field(default=0.0, ge=0)  # before the first byte
    chunk_delay_s: float = Field(default=0.0, ge=0)  # between stream chunks
    error: ErrorSpec | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # extra response headers
    cut_after_chunks: int | None = Field(default=None, ge=0)  # close the connection abruptly
    tool_call_style: Literal["whole", "pieces"] = "whole"
    send_done: bool = True  # end the stream with `data: [DONE]`
    reasoning_field: Literal["reasoning", "reasoning_content"] | None = None  # None: the server provider's
    usage: UsageOverride | None = None
    hang: Hang | None = None  # hold the request open until the client gives up (or the server stops)

    def effective_finish_reason(self) -> str:
        """The finish reason sent: the scripted one, or derived from the tool calls."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


class RateLimits(_Strict):
    """The `x-ratelimit-*` headers every response carries; `remaining` counts down per request."""

    requests_day: int = 14_400
    tokens_minute: int = 1_000_000
    reset_requests_day_s: float = 33_011.0
    reset_tokens_minute_s: float = 11.0


class Script(_Strict):
    """Queues of turns per role (keyed by the `X-Agent-Role` header) and a default turn per role."""

    turns: dict[str, list[Turn]] = Field(default_factory=dict)
    defaults: dict[str, Turn] = Field(default_factory=dict)
    model: str = DEFAULT_MODEL
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    # When set, a request whose prompt + max_completion_tokens exceeds it gets Cerebras' 400.
    context_limit: int | None = None
    # Which provider the server plays: how it reads reasoning switches and earlier reasoning (the
    # model view), and which field it streams reasoning in.
    provider: ServerProvider = "cerebras"
    # Request keys this server accepts but ignores (e.g. "reasoning_effort"), as a real one may.
    ignored_keys: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path | str) -> Script:
        """Read a JSON or YAML script file; a bad file is a UserError naming the file and the problem."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read script file {path}: {exc.strerror or exc}") from None
        data = _parse(path, text)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise UserError(f"invalid script file {path}: {_describe(exc)}") from None


def _parse(path: Path, text: str) -> Any:
    """JSON for .json files, YAML otherwise (YAML also reads JSON)."""
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid script file {path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"invalid script file {path}: not YAML: {str(exc).splitlines()[0]}") from None


def _describe(exc: ValidationError) -> str:
    """The first few validation problems, each as `location: message`."""
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
