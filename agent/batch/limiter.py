"""One rate limiter shared by every job of a batch, shaped like the server's own.

Requests and tokens per minute are counted over a sliding 60-second window: in no window does the
batch send more than the configured numbers (a token bucket of the same size would allow twice as
many in its first minute). Like Cerebras' limiter, a request is charged up front: an estimate of
its input tokens plus its whole `max_completion_tokens`.

The server counts a request when it arrives, which is some time after we admit it (the request is
built and sent, a process is descheduled, a Ray worker is told over the network). So a charge does
not leave the window a minute after its admission, but a minute after the caller *settles* it: once
the server's response has begun (or the attempt failed), when the request has certainly arrived.
Then in any minute of arrivals, the last one admitted found every other one still charged, and no
minute as the server sees it holds more than the limit. The server's own figures win over ours:
`x-ratelimit-remaining-*` at zero, or a 429's `retry-after`, pause every job until the reset.
The clock and sleep are injected so tests run in virtual time.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from agent.llm.tokens import estimate_tokens
from agent.llm.types import ChatRequest

WINDOW_S = 60.0
SLICE_S = 1.0
MAX_PAUSE_S = 120.0  # a reset further away than this is left to the client's retry policy to report
# A charge never settled (its caller died) leaves the window this long after a settled one would.
UNSETTLED_HOLD_S = 120.0
_LIMITS = ("tokens-minute", "requests-minute", "tokens-day", "requests-day")


@dataclass
class ServerQuota:
    """What the server last said is left of one limit, until when."""

    remaining: float
    reset_at: float


@dataclass
class Charge:
    """One admitted request: when, how many tokens, and when it was settled (None: still on its way)."""

    ticket: int
    admitted: float
    tokens: int
    settled: float | None = None

    def leaves_at(self, window_s: float) -> float:
        """When this charge stops counting against the window."""
        if self.settled is not None:
            return self.settled + window_s
        return self.admitted + window_s + UNSETTLED_HOLD_S


@dataclass(frozen=True)
class Reservation:
    """`reserve`'s answer: a ticket to settle once the request has arrived, or the seconds to wait."""

    wait: float = 0.0
    ticket: int | None = None


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
        self._window: list[Charge] = []  # admitted, not yet out of the window
        self._tickets = itertools.count(1)
        self._paused_until = 0.0
        self._server: dict[str, ServerQuota] = {}
        self._lock = threading.Lock()

    # -- admitting calls ------------------------------------------------------------------------

    def reserve(self, tokens: int) -> Reservation:
        """Charge a call of `tokens` and answer its ticket, or answer the seconds to wait (nothing charged)."""
        with self._lock:
            now = self.clock()
            wait = max(self._paused_until - now, self._window_wait(now, tokens), self._server_wait(now, tokens))
            if wait > 0:
                return Reservation(wait=wait)
            ticket = next(self._tickets)
            self._window.append(Charge(ticket, now, tokens))
            for name, quota in self._server.items():
                if now < quota.reset_at:
                    quota.remaining -= tokens if name.startswith("tokens") else 1
            self.admissions.append(now)
            self.stats.admitted += 1
            self.stats.tokens += tokens
            return Reservation(ticket=ticket)

    def settle(self, ticket: int) -> None:
        """The request of `ticket` has reached the server (its response began, or it failed): its
        charge leaves the window one window from now."""
        with self._lock:
            now = self.clock()
            for charge in self._window:
                if charge.ticket == ticket and charge.settled is None:
                    charge.settled = now
                    return

    def acquire(self, tokens: int, cancelled: Callable[[], bool] = lambda: False) -> int | None:
        """Block until a call of `tokens` may go (its ticket), or until `cancelled()` turns true (None)."""
        while (reservation := self.reserve(tokens)).ticket is None:
            if cancelled():
                return None
            self.sleep(self._note_wait(reservation.wait))
        return reservation.ticket

    async def aacquire(self, tokens: int) -> int:
        """The same, for calls made from an event loop: waits without blocking the loop."""
        while (reservation := self.reserve(tokens)).ticket is None:
            await self.asleep(self._note_wait(reservation.wait))
        return reservation.ticket

    def _note_wait(self, wait: float) -> float:
        """The next sleep: in slices, so a cancelled batch stops waiting soon."""
        step = min(wait, SLICE_S)
        with self._lock:
            self.stats.waits += 1
            self.stats.waited_s += step
        return step

    def _window_wait(self, now: float, tokens: int) -> float:
        self._window = [c for c in self._window if c.leaves_at(self.window_s) > now]
        # The charges in the order they will leave (settled ones first; the rest when settled).
        leaving = sorted(self._window, key=lambda c: c.leaves_at(self.window_s))
        wait = 0.0
        if self.rpm is not None and len(leaving) >= self.rpm:
            wait = leaving[len(leaving) - self.rpm].leaves_at(self.window_s) - now
        if self.tpm is not None and leaving:
            # Free the first charges to leave until this one fits; one call larger than the whole
            # limit still goes once the window is empty, or it would wait forever.
            excess = sum(c.tokens for c in leaving) + min(tokens, self.tpm) - self.tpm
            for charge in leaving:
                if excess <= 0:
                    break
                excess -= charge.tokens
                wait = max(wait, charge.leaves_at(self.window_s) - now)
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

    def __call__(self, request: ChatRequest, budget: int) -> Callable[[], None]:
        """Wait for the attempt's turn; answers what the client calls once the request has arrived."""
        # KeyboardInterrupt: the run journals itself as interrupted and stays resumable.
        ticket = None if self.cancelled() else self.limiter.acquire(self.charge(request, budget), self.cancelled)
        if ticket is None:
            raise KeyboardInterrupt
        return functools.partial(self.limiter.settle, ticket)
