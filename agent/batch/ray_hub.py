"""The one actor a Ray batch shares: the rate limiter for the whole cluster, the cancel flag, progress.

Every worker's model client asks the hub before each request attempt, and tells it once the
response began: the accounting is `RateLimiter`'s own (requests and tokens per sliding minute,
charged up front, settled on arrival, the server's headers and 429 `retry-after` pausing everyone),
kept in one place on one clock, so one API key's limits hold however many nodes send. The worker sleeps between asks on its own node, so the hub never blocks.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, Callable

import ray

from agent.batch.limiter import SLICE_S, Admission, RateLimiter, Reservation
from agent.journal import Event
from agent.llm.types import ChatRequest

# What the progress view reads of a journal event; the rest (prompts, tool output) stays on the worker.
_VIEW_FIELDS = ("type", "steps", "index", "attempt", "passed")


@dataclass(frozen=True)
class LimiterSettings:
    """A driver's `RateLimiter` settings, to build the cluster's limiter from."""

    rpm: int | None
    tpm: int | None
    window_s: float
    max_pause_s: float

    @classmethod
    def of(cls, limiter: RateLimiter) -> LimiterSettings:
        return cls(limiter.rpm, limiter.tpm, limiter.window_s, limiter.max_pause_s)


class Hub:
    """The batch's actor (see the module docstring); its methods are what workers and the driver call."""

    def __init__(self, settings: LimiterSettings) -> None:
        self.limiter = RateLimiter(settings.rpm, settings.tpm, window_s=settings.window_s,
                                   max_pause_s=settings.max_pause_s)
        self.cancelled = False
        self.progress: list[tuple[str, Event]] = []

    def reserve(self, tokens: int) -> Reservation | None:
        """The ticket of a call of `tokens` once charged, or the seconds to wait; None once cancelled."""
        return None if self.cancelled else self.limiter.reserve(tokens)

    def settle(self, ticket: int) -> None:
        """The call of `ticket` has reached the server: its charge leaves a window from now (the hub's clock)."""
        self.limiter.settle(ticket)

    def observe(self, headers: dict[str, str]) -> None:
        self.limiter.observe(headers)

    def cancel(self) -> None:
        self.cancelled = True

    def post(self, target: str, event: Event) -> None:
        self.progress.append((target, event))

    def drain(self) -> list[tuple[str, Event]]:
        """The progress posted since the last drain, oldest first."""
        taken, self.progress = self.progress, []
        return taken

    def accounting(self) -> tuple[list[float], dict[str, Any]]:
        """When each call was admitted (the hub's clock), and the limiter's counters."""
        stats = self.limiter.stats
        return list(self.limiter.admissions), {"admitted": stats.admitted, "tokens": stats.tokens,
                                               "pauses": list(stats.pauses)}


def start_hub(limiter: RateLimiter) -> Any:
    """The hub actor for a batch with `limiter`'s settings (no CPU reserved: it only counts)."""
    return ray.remote(num_cpus=0)(Hub).remote(LimiterSettings.of(limiter))


class RemoteAdmission:
    """A worker's `before_attempt`: admits each model request attempt through the hub."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def __call__(self, request: ChatRequest, budget: int) -> Callable[[], None]:
        tokens = Admission.charge(request, budget)
        while True:
            reservation = ray.get(self.hub.reserve.remote(tokens))
            if reservation is None:  # the batch was interrupted: the run journals itself as interrupted
                raise KeyboardInterrupt
            if reservation.ticket is not None:
                return functools.partial(self._arrived, reservation.ticket)
            time.sleep(min(reservation.wait, SLICE_S))

    def _arrived(self, ticket: int) -> None:
        # Sent after the response began: the hub settles the charge no earlier than the arrival.
        self.hub.settle.remote(ticket)

    def observe(self, headers: dict[str, str]) -> None:
        """A response's rate-limit headers, for every worker's next ask (the client's `on_rate_limit`)."""
        self.hub.observe.remote(headers)


def progress_event(event: Event) -> Event:
    """The part of a journal event the driver's progress view shows."""
    return {key: event[key] for key in _VIEW_FIELDS if key in event}
