"""What a batch shows: a live table of targets at a terminal (plain lines otherwise), then a summary."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agent.batch.results import TargetResult, tests_text
from agent.batch.spec import Target
from agent.journal import Event

STYLE = {"queued": "dim", "running": "yellow", "succeeded": "green", "unverified": "yellow", "failed": "red",
         "blocked": "red", "budget_exhausted": "yellow", "error": "bold red", "interrupted": "yellow", "busy": "yellow",
         "skipped": "dim"}
RECENT = 6  # finished targets kept on the live view under the running ones


@dataclass
class Row:
    target: str
    state: str = "queued"
    detail: str = ""
    started: float = 0.0
    seconds: float = 0.0
    finished_at: float = 0.0
    node: str = ""  # the Ray node running it (`--ray`)


class BatchView:
    """Per-target state, from each run's journal events; thread-safe (jobs report from their threads)."""

    def __init__(self, console: Console, targets: list[Target], *, live: bool | None = None,
                 skipped: int = 0) -> None:
        self.console = console
        self.live_mode = console.is_terminal if live is None else live
        self.rows = {t.id: Row(t.id) for t in targets}
        self.total, self.skipped = len(targets), skipped
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._steps: dict[str, int] = {}

    def __enter__(self) -> "BatchView":
        if self.skipped:
            self._line(Text(f"{self.skipped} target(s) already in the results file: skipped", style="dim"))
        if self.live_mode:
            self._live = Live(get_renderable=self._render, console=self.console, refresh_per_second=4,
                              transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    # -- updates from the jobs ------------------------------------------------------------------

    def start(self, target: Target) -> None:
        with self._lock:
            row = self.rows[target.id]
            row.state, row.detail, row.started = "running", "starting", time.monotonic()
        if not self.live_mode:
            self._line(Text(f"start   {target.id}", style="dim"))

    def on_event(self, target_id: str, event: Event) -> None:
        """A journal event of one target's run: keep its current step and phase."""
        kind = event.get("type")
        with self._lock:
            row = self.rows.get(target_id)
            if row is None:
                return
            if kind == "node":  # a Ray worker took the target (again, after a worker died)
                row.node = str(event.get("node", ""))
                row.detail = f"on {row.node}"
            elif kind == "plan":
                self._steps[target_id] = len(event.get("steps", []))
                row.detail = f"planned {self._steps[target_id]} step(s)"
            elif kind == "step_started":
                attempt = event.get("attempt", 1)
                again = f", revision {attempt - 1}" if attempt > 1 else ""
                row.detail = f"step {event.get('index', 0) + 1}/{self._steps.get(target_id, '?')}{again}"
            elif kind == "gate":
                row.detail += " · gate " + ("passed" if event.get("passed") else "asked for changes")
            elif kind == "tests":
                row.detail = "final tests"
        if kind == "node" and not self.live_mode:
            self._line(Text(f"node    {target_id}  {event.get('node', '')}", style="dim"))

    def finish(self, result: TargetResult) -> None:
        with self._lock:
            row = self.rows[result.target]
            row.state, row.seconds, row.finished_at = result.status, result.duration_s, time.monotonic()
            row.detail = (result.branch or "") if result.status == "succeeded" else (result.error or result.status)
            done = sum(1 for r in self.rows.values() if r.finished_at)
        if not self.live_mode:
            where = f"  on {result.node}" if result.node else ""
            line = f"[{done}/{self.total}] {result.status:<11} {result.target}  {result.duration_s:.1f}s  {row.detail}{where}"
            self._line(Text(line, style=STYLE.get(result.status, "")))

    # -- drawing --------------------------------------------------------------------------------

    def _line(self, text: Text) -> None:
        self.console.print(text, soft_wrap=True)

    def _render(self) -> RenderableType:
        with self._lock:
            rows = list(self.rows.values())
        now = time.monotonic()
        running = [r for r in rows if r.state == "running"]
        finished = sorted((r for r in rows if r.finished_at), key=lambda r: r.finished_at)[-RECENT:]
        queued = sum(1 for r in rows if r.state == "queued")
        table = Table(box=None, show_header=True, pad_edge=False)
        nodes = any(r.node for r in rows)
        for column in ("target", "state", *(["node"] if nodes else []), "", "seconds"):
            table.add_column(column, overflow="ellipsis", no_wrap=True)
        for r in finished + running:
            seconds = r.seconds if r.finished_at else now - r.started
            where = [Text(r.node, style="cyan")] if nodes else []
            table.add_row(Text(r.target), Text(r.state, style=STYLE.get(r.state, "")), *where, Text(r.detail),
                          f"{seconds:.0f}")
        done = sum(1 for r in rows if r.finished_at)
        head = Text(f"batch: {done}/{self.total} finished · {len(running)} running · {queued} queued", style="bold")
        return Group(head, table)


def print_summary(console: Console, results: list[TargetResult], notes: list[str]) -> None:
    """The final table: every target's status, tests, commits, tokens, time, and branch or error."""
    table = Table(title="batch summary", show_header=True, box=None, pad_edge=False)
    for column in ("target", "status", "tests", "commits", "tokens", "seconds", "branch / error"):
        numeric = column in ("commits", "tokens", "seconds")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column in ("status", "tests"),
                         overflow="fold")
    for r in results:
        last = (r.branch or "") if r.status == "succeeded" else (r.error or r.branch or "")
        table.add_row(Text(r.target), Text(r.status, style=STYLE.get(r.status, "")), Text(tests_text(r.tests)),
                      str(len(r.commits)), str(r.tokens), f"{r.duration_s:.1f}", Text(last))
    console.print(table)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    console.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no targets")
    for note in notes:
        console.print(note, soft_wrap=True, markup=False, highlight=False)
