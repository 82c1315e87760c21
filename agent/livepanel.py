"""The bottom of the live view at a terminal: the plan with each step's state and, while the model
is being waited on, a spinner with the role and the seconds waited."""

from __future__ import annotations

import threading
from typing import Callable

from rich.console import Group, RenderableType
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

STATE_STYLE = {"pending": "dim", "running": "bold yellow", "escalated": "bold magenta", "approved": "green",
               "blocked": "bold red", "skipped": "dim"}
Steps = Callable[[], list[dict[str, str]]]


class LivePanel:
    """Built afresh each time the live display draws it, so it never shows a state older than the
    last event (a step approved a moment ago is never drawn as still running)."""

    def __init__(self, steps: Steps, title: str, clock: Callable[[], float]):
        self._steps, self._title, self._clock = steps, title, clock
        self._waiting: dict[str, float] = {}  # role → when its request started
        self._lock = threading.Lock()
        self._spinner = Spinner("dots", style="cyan")

    def waiting(self, role: str, started: bool) -> None:
        """A model request for `role` started (or ended); critics call from their own threads."""
        with self._lock:
            if started:
                self._waiting.setdefault(role, self._clock())
            else:
                self._waiting.pop(role, None)

    def status(self) -> str | None:
        """`drafting the plan · waiting for planner · 12s`, or None when no request is open."""
        with self._lock:
            if not self._waiting:
                return None
            roles, since = list(self._waiting), min(self._waiting.values())
        running = [i for i, step in enumerate(self._steps()) if step["state"] in ("running", "escalated")]
        step = f"step {running[0] + 1}: " if running else ""
        if "planner" in roles:
            doing = "drafting the plan"
        elif "executor" in roles:
            doing = f"{step}the executor is working"
        elif "escalation" in roles:
            doing = f"{step}the escalation model is working"
        else:
            doing = f"{step}the critics are judging"
        return f"{doing} · waiting for {', '.join(roles)} · {int(self._clock() - since)}s"

    def __rich__(self) -> RenderableType:
        table = Table(title=self._title, show_header=False, box=None)
        for i, step in enumerate(self._steps()):
            table.add_row(f"{i + 1}.", Text(step["state"], style=STATE_STYLE.get(step["state"], "")), step["title"])
        status = self.status()
        if status is None:
            return table
        self._spinner.update(text=Text(status, style="cyan"))
        return Group(table, self._spinner)
