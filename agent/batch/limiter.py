"""One rate limiter shared by every job of a batch, shaped like the server's own.

Requests and tokens per minute are counted over a sliding 60-second window: in no window does the
batch send more than the configured numbers (a token bucket of the same size would allow twice as
many in its first minute). Like Cerebras' limiter, a request is charged up front: an estimate of
its input tokens plus its whole `max_completion_tokens`. The server's own figures win over ours:
`x-ratelimit-remaining-*` at zero, or a 429's `retry-after`, pause every job until the reset.
The clock and sleep are injected so tests run in virtual time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from agent.llm.tokens import estimate_tokens
from agent.llm.types import ChatRequest

WINDOW_S = 60.0
SLICE_S = 1.0
MAX_PAUSE_S = 120.0  # a reset further away than this is left to the client's retry policy to report
_LIMITS = ("tokens-minute", "requests-minute", "tokens-day", "requests-day")


@dataclass
class ServerQuota:
    """What the server last said is left of one limit, until when."""

    remaining: float
    reset_at: float


@dataclass
class LimiterStats:
    admitted: int = 0
    tokens: int = 0
    waits: int = 0
    waited_s: float = 0.0
    pauses: list[tuple[float, float, str]] = field(default_factory=list)  # (at, until, why)


class RateLimiter:
    """Admits model calls so that every job together stays inside the limits."""

    def __init__(self, requests_per_minute: int | None = None, tokens_per_minute: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 asleep: Callable[[float], Awaitable[None]] | None = None, max_pause_s: float = MAX_PAUSE_S,
                 window_s: float = WINDOW_S):
        self.rpm, self.tpm = requests_per_minute, tokens_per_minute
        self.window_s = window_s  # the "minute": shorter only in tests and benchmarks that run in real time
        self.clock, self.sleep = clock, sleep
        self.asleep = asleep or asyncio.sleep
        self.max_pause_s = max_pause_s
        self.stats = LimiterStats()
        self.admissions: list[float] = []  # when each call was admitted (for tests and figures)
        self._window: deque[tuple[float, int]] = deque()  # (admitted at, tokens charged)
        self._paused_until = 0.0
        self._server: dict[str, ServerQuota] = {}
        self._lock = threading.Lock()

    # -- admitting calls ------------------------------------------------------------------------

    def reserve(self, tokens: int) -> float:
        """Charge a call of `tokens` and return 0.0, or return the seconds to wait (nothing charged)."""
        with self._lock:
            now = self.clock()
            wait = max(self._paused_until - now, self._window_wait(now, tokens), self._server_wait(now, tokens))
            if wait > 0:
                return wait
            self._window.append((now, tokens))
            for name, quota in self._server.items():
                if now < quota.reset_at:
                    quota.remaining -= tokens if name.startswith("tokens") else 1
            self.admissions.append(now)
            self.stats.admitted += 1
            self.stats.tokens += tokens
            return 0.0

    def acquire(self, tokens: int, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Block until a call of `tokens` may go (True), or until `cancelled()` turns true (False)."""
        while (wait := self.reserve(tokens)) > 0:
            if cancelled():
                return False
            self.sleep(self._note_wait(wait))
        return True

    async def aacquire(self, tokens: int) -> None:
        """The same, for calls made from an event loop: waits without blocking the loop."""
        while (wait := self.reserve(tokens)) > 0:
            await self.asleep(self._note_wait(wait))

    def _note_wait(self, wait: float) -> float:
        """The next sleep: in slices, so a cancelled batch stops waiting soon."""
        step = min(wait, SLICE_S)
        with self._lock:
            self.stats.waits += 1
            self.stats.waited_s += step
        return step

    def _window_wait(self, now: float, tokens: int) -> float:
        while self._window and self._window[0][0] <= now - self.window_s:
            self._window.popleft()
        wait = 0.0
        if self.rpm is not None and len(self._window) >= self.rpm:
            wait = self._window[len(self._window) - self.rpm][0] + self.window_s - now
        if self.tpm is not None and self._window:
            # Free the oldest charges until this one fits; one call larger than the whole limit
            # still goes once the window is empty, or it would wait forever.
            excess = sum(t for _, t in self._window) + min(tokens, self.tpm) - self.tpm
            for at, charged in self._window:
                if excess <= 0:
                    break
                excess -= charged
                wait = max(wait, at + self.window_s - now)
        return max(wait, 0.0)

    def _server_wait(self, now: float, tokens: int) -> float:
        wait = 0.0
        for name, quota in self._server.items():
            need = tokens if name.startswith("tokens") else 1
            if now < quota.reset_at and quota.remaining < need:
                wait = max(wait, quota.reset_at - now)
        return wait

    # -- what the server says -------------------------------------------------------------------

    def observe(self, headers: dict[str, str]) -> None:
        """A response's rate-limit headers (lower-case): `retry-after*` or an exhausted limit pause every job."""
        with self._lock:
            now = self.clock()
            retry = _retry_after(headers)
            if retry is not None:
                self._pause(now, retry, "retry-after")
            for name in _LIMITS:
                remaining = _seconds(headers.get(f"x-ratelimit-remaining-{name}"))
                reset = _seconds(headers.get(f"x-ratelimit-reset-{name}"))
                if remaining is None or reset is None:
                    continue
                self._server[name] = ServerQuota(remaining, now + min(reset, self.max_pause_s))
                if remaining <= 0:
                    self._pause(now, reset, f"{name} exhausted")

    def _pause(self, now: float, seconds: float, why: str) -> None:
        until = now + min(seconds, self.max_pause_s)
        if until > self._paused_until:
            self._paused_until = until
            self.stats.pauses.append((now, until, why))


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return max(float(text.strip().removesuffix("s")), 0.0)
    except ValueError:
        return None


def _retry_after(headers: dict[str, str]) -> float | None:
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    return _seconds(headers.get("retry-after"))  # an HTTP date is left to the client's own retry


class Admission:
    """Admits each model request attempt through the shared limiter (the client's `before_attempt`)."""

    def __init__(self, limiter: RateLimiter, cancelled: Callable[[], bool] = lambda: False):
        self.limiter, self.cancelled = limiter, cancelled

    @staticmethod
    def charge(request: ChatRequest, budget: int) -> int:
        """Input tokens plus the completion budget the server will reserve for this attempt."""
        return estimate_tokens(request.messages, request.tools) + budget

    def __call__(self, request: ChatRequest, budget: int) -> None:
        # KeyboardInterrupt: the run journals itself as interrupted and stays resumable.
        if self.cancelled() or not self.limiter.acquire(self.charge(request, budget), self.cancelled):
            raise KeyboardInterrupt
