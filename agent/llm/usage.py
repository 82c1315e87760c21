"""Usage accounting per role and per step, shared by every thread and task of a run."""

from __future__ import annotations

import threading
from collections import defaultdict

from agent.llm.types import Usage

NO_STEP = "-"  # the step key for calls made outside any step (planning, probes)


class UsageLedger:
    """Thread-safe running totals of what each model call cost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_role: dict[str, Usage] = defaultdict(Usage)
        self._by_step: dict[str, Usage] = defaultdict(Usage)
        self._by_role_step: dict[tuple[str, str], Usage] = defaultdict(Usage)
        self._total = Usage()

    def record(self, role: str, step: str | None, usage: Usage) -> None:
        """Add one call's usage under its role and step."""
        step_key = step if step is not None else NO_STEP
        with self._lock:
            for bucket in (self._by_role[role], self._by_step[step_key],
                           self._by_role_step[(role, step_key)], self._total):
                bucket.add(usage)

    def by_role(self) -> dict[str, dict[str, int | float]]:
        """Totals per role, in first-seen order."""
        with self._lock:
            return {role: usage.as_dict() for role, usage in self._by_role.items()}

    def by_step(self) -> dict[str, dict[str, int | float]]:
        """Totals per step (`-` for calls outside any step), in first-seen order."""
        with self._lock:
            return {step: usage.as_dict() for step, usage in self._by_step.items()}

    def by_role_and_step(self) -> dict[str, dict[str, dict[str, int | float]]]:
        """Totals per step, then per role within it."""
        with self._lock:
            result: dict[str, dict[str, dict[str, int | float]]] = {}
            for (role, step), usage in self._by_role_step.items():
                result.setdefault(step, {})[role] = usage.as_dict()
            return result

    def total(self) -> dict[str, int | float]:
        """Totals over every call."""
        with self._lock:
            return self._total.as_dict()
