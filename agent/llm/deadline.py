"""Deadlines of one streamed model request: first token, idle between events, and the whole request.

The HTTP library's read timeout restarts on every byte, so a server that sends keep-alive
comments, or streams reasoning without end, would hold a request forever. These deadlines count
only streamed events (what the SDK hands over) and the wall clock. In the synchronous client a
process-wide watchdog thread shuts the socket of an attempt that is overdue, so its blocked read
fails at once; the asynchronous client reschedules an `asyncio.timeout` instead.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

from agent.llm.types import RequestLimits


@dataclass(eq=False)
class Deadline:
    """When the current attempt is overdue, and what to say then."""

    limits: RequestLimits
    total_s: float
    started: float = field(default_factory=time.monotonic)
    events: int = 0
    fired: str | None = None  # the reason, once the watchdog cut the attempt

    def due(self) -> float:
        """The monotonic time at which the attempt is overdue."""
        total = self.started + self.total_s
        wait = self.limits.first_token_s if self.events == 0 else self.limits.idle_s
        return min(self._last + wait, total)

    def event(self) -> None:
        """A streamed event arrived: the idle clock starts again."""
        self.events += 1
        self._last = time.monotonic()

    def reason(self, now: float) -> str:
        """Which deadline `now` is past, in words."""
        if now >= self.started + self.total_s:
            return (f"the request took longer than {self.total_s:.3g}s in all (its completion budget at "
                    f"{self.limits.min_tokens_per_s:g} tokens/s, plus {self.limits.first_token_s:g}s to start)")
        if self.events == 0:
            return f"no answer within {self.limits.first_token_s:g}s of sending the request"
        return f"the stream sent nothing for {self.limits.idle_s:g}s"

    def __post_init__(self) -> None:
        self._last = self.started


class _Watchdog:
    """One thread for the process: shuts down the socket of any attempt past its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[Deadline, socket.socket] = {}
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline, sock: socket.socket) -> None:
        with self._cond:
            self._watched[deadline] = sock
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="model-request-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def wake(self) -> None:
        """A deadline moved earlier (the first event arrived): look again."""
        with self._cond:
            self._cond.notify()

    def forget(self, deadline: Deadline) -> None:
        with self._cond:
            self._watched.pop(deadline, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._watched:
                    self._cond.wait()
                    continue
                now = time.monotonic()
                for deadline, sock in list(self._watched.items()):
                    if now >= deadline.due():
                        deadline.fired = deadline.reason(now)
                        del self._watched[deadline]
                        _shut(sock)
                if self._watched:
                    # Deadlines only move later between wakes, except at a first event (see wake()).
                    self._cond.wait(max(min(d.due() for d in self._watched) - now, 0.001))


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


WATCHDOG = _Watchdog()
