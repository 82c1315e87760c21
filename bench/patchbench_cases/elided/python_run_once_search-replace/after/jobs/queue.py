"""A small job queue with retries and a dead-letter list."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    run: Callable[[], None]
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


class Queue:
    def __init__(self, max_attempts: int = 3, backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.pending: deque[Job] = deque()
        self.dead: list[Job] = []

    def submit(self, job: Job) -> None:
        self.pending.append(job)

    def run_once(self) -> bool:
        if not self.pending:
            return False
        job = self.pending.popleft()
        job.attempts += 1
        try:
            job.run()
        except Exception as exc:
            job.errors.append(str(exc))
            if job.attempts >= self.max_attempts:
                log.warning("job %s failed %d times; giving up", job.name, job.attempts)
                self.dead.append(job)
            else:
                self.sleep(min(self.backoff * 2 ** (job.attempts - 1), 30.0))
                self.pending.append(job)
        return True

    def drain(self) -> int:
        done = 0
        while self.run_once():
            done += 1
        return done
