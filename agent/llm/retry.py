"""Which faults are retried, how long to wait, and which become the product's error kinds.

Pure decisions: the client feeds in the exception it met and sleeps for whatever this returns,
with the sleep function injected so tests never really wait.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Literal, Mapping

import openai

from agent.errors import AuthError, ContextLengthError, ModelAPIError

FaultKind = Literal["retry", "context", "auth", "fatal"]
RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
RATE_LIMIT_PREFIX = "x-ratelimit-"

_CEREBRAS_CONTEXT = re.compile(r"Current length is (\d+) while limit is (\d+)", re.IGNORECASE)
_OPENAI_LIMIT = re.compile(r"maximum context length is (\d+)", re.IGNORECASE)
_OPENAI_CURRENT = re.compile(r"(?:resulted in|you requested|requested) (\d+) tokens", re.IGNORECASE)


class StreamCut(Exception):
    """A stream ended before its finish_reason: the connection dropped mid-answer."""


class StreamTimeout(StreamCut):
    """A request ran past one of its deadlines (first token, idle between events, total)."""


class StreamError(Exception):
    """An error event inside a stream: `{"error": {...}, "status_code": N}` (Cerebras' ErrorChunkResponse),
    or the older shape with the status inside `error`."""

    def __init__(self, data: dict[str, Any]):
        error = data.get("error")
        self.body: dict[str, Any] = error if isinstance(error, dict) else {"message": str(error)}
        self.status = _status_in_body(data) or _status_in_body(self.body)
        message = self.body.get("message")
        super().__init__(message if isinstance(message, str) and message else "an error occurred during streaming")


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 0.5
    cap_s: float = 30.0
    max_attempts: int = 6
    max_header_wait_s: float = 120.0  # a reset further away than this ends the call instead

    def backoff(self, attempt: int, jitter: float) -> float:
        """Seconds before retry number `attempt` (1-based); `jitter` in [0, 1) spreads callers apart."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        return ceiling * (0.5 + jitter / 2)


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    message: str
    status: int | None = None
    headers: Mapping[str, str] | None = None
    current: int | None = None
    limit: int | None = None
    param: str | None = None  # the request key the server named, if any


def classify(exc: BaseException) -> Fault:
    """What kind of fault `exc` is; raises it again when it is none of ours (a bug)."""
    if isinstance(exc, StreamCut):
        return Fault("retry", str(exc) or "the stream was cut")
    if isinstance(exc, StreamError):
        return _classify_status(exc.status, str(exc), exc.body, None)
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return Fault("retry", exc.message)
    if isinstance(exc, openai.APIStatusError):
        headers = {k.lower(): v for k, v in exc.response.headers.items()}
        body = exc.body if isinstance(exc.body, dict) else {"code": exc.code, "param": exc.param, "type": exc.type}
        return _classify_status(exc.status_code, _server_message(exc), body, headers)
    raise exc


def _classify_status(status: int | None, message: str, body: Mapping[str, Any],
                     headers: Mapping[str, str] | None) -> Fault:
    code, param, type_ = (_text(body.get(key)) for key in ("code", "param", "type"))
    sizes = parse_context_length(message, code)
    if sizes is not None:
        return Fault("context", message, status, headers, *sizes)
    if status in (401, 403):
        return Fault("auth", message, status, headers, param=param)
    if (status is None and type_ != "invalid_request_error") or status in RETRYABLE_STATUS:
        return Fault("retry", message, status, headers, param=param)
    return Fault("fatal", message, status, headers, param=param)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _server_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return exc.message


def _status_in_body(body: dict[str, Any]) -> int | None:
    for key in ("status_code", "status", "code"):
        value = body.get(key)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return None


def parse_context_length(message: str, code: str | None = None) -> tuple[int | None, int | None] | None:
    """(current, limit) when `message`/`code` say the request is over the context; else None."""
    match = _CEREBRAS_CONTEXT.search(message)
    if match:
        return int(match.group(1)), int(match.group(2))
    limit = _OPENAI_LIMIT.search(message)
    if code == "context_length_exceeded" or limit:
        current = _OPENAI_CURRENT.search(message)
        return (int(current.group(1)) if current else None), (int(limit.group(1)) if limit else None)
    return None


def header_delay(headers: Mapping[str, str], status: int | None,
                 now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait (lower-case `headers`), or None if it did not say."""
    if "retry-after-ms" in headers:
        value = _number(headers["retry-after-ms"])
        if value is not None:
            return value / 1000
    if "retry-after" in headers:
        value = _number(headers["retry-after"])
        if value is None:
            value = _http_date_delay(headers["retry-after"], now)
        if value is not None:
            return value
    return _cerebras_reset(headers) if status == 429 else None


def _cerebras_reset(headers: Mapping[str, str]) -> float | None:
    """The reset of whichever Cerebras limit ran out (seconds), or the nearest one if unknown."""
    pairs = {"tokens-minute": None, "requests-day": None}
    for limit in pairs:
        reset = _number(headers.get(f"x-ratelimit-reset-{limit}", ""))
        remaining = _number(headers.get(f"x-ratelimit-remaining-{limit}", ""))
        if reset is not None and remaining is not None and remaining <= 0:
            return reset
        pairs[limit] = reset
    known = [value for value in pairs.values() if value is not None]
    return min(known) if known else None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().removesuffix("s"))
    except ValueError:
        return None
    return max(value, 0.0)


def _http_date_delay(text: str, now: Callable[[], float]) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now(), 0.0)


@dataclass(frozen=True)
class Endpoint:
    """What error messages name: where the call went and which variable holds its key."""

    base_url: str
    key_env: tuple[str, ...]


class Attempts:
    """The retry budget of one call: turns each fault into a wait, or into the product's error."""

    def __init__(self, policy: RetryPolicy, endpoint: Endpoint, rand: Callable[[], float] = random.random):
        self.policy = policy
        self.endpoint = endpoint
        self.count = 0  # requests sent so far
        self._rand = rand

    def wait_after(self, fault: Fault) -> float:
        """Seconds to sleep before trying again; raises when the fault ends the call."""
        where = self.endpoint.base_url
        if fault.kind == "context":
            raise ContextLengthError(f"request too long for the model at {where}: {fault.message}",
                                     fault.current, fault.limit)
        if fault.kind == "auth":
            keys = " or ".join(self.endpoint.key_env)
            raise AuthError(f"{where} refused the credentials (HTTP {fault.status}); check {keys}")
        if fault.kind == "fatal":
            raise ModelAPIError(f"model API error{_status(fault)} from {where}: {fault.message}")
        if self.count >= self.policy.max_attempts:
            raise ModelAPIError(f"model API at {where} failed after {self.count} attempts: "
                                f"{fault.message}{_status(fault)}")
        hinted = header_delay(fault.headers or {}, fault.status)
        if hinted is not None and hinted > self.policy.max_header_wait_s:
            raise ModelAPIError(f"model API at {where} is rate limited for another {hinted:.0f}s: {fault.message}")
        return hinted if hinted is not None else self.policy.backoff(self.count, self._rand())


def _status(fault: Fault) -> str:
    return f" (HTTP {fault.status})" if fault.status else ""


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The `x-ratelimit-*` and retry headers of a response, lower-cased."""
    return {k.lower(): v for k, v in headers.items()
            if k.lower().startswith(RATE_LIMIT_PREFIX) or k.lower().startswith("retry-after")}
