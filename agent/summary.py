"""The final summary of a run, and the report file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.report import Report

STATUS_STYLE = {"succeeded": "bold green", "failed": "bold red", "blocked": "bold red", "error": "bold red",
                "interrupted": "bold yellow", "running": "yellow"}


def write_report(report: Report, path: Path) -> None:
    """Write report.json atomically: a reader sees the old report or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(report.model_dump_json(indent=2) + "\n")
    os.replace(tmp, path)


def print_summary(report: Report, console: Console) -> None:
    """Status, branch, each step with its commit, tests, and tokens by role."""
    console.print(Text(f"\nrun {report.run_id}: {report.status}", style=STATUS_STYLE.get(report.status, "")))
    console.print(f"branch {report.branch}  worktree {report.worktree}")
    if report.error:
        console.print(Text(f"error: {report.error}", style="red"))
    steps = Table(show_header=True, box=None)
    for column in ("#", "step", "status", "attempts", "commit"):
        steps.add_column(column)
    for i, step in enumerate(report.steps):
        steps.add_row(str(i + 1), step.title, step.status, str(step.attempts), (step.commit or "")[:10])
    console.print(steps)
    t = report.tests
    if t.command:
        sandbox = "" if t.sandboxed in (True, None) else " — not sandboxed"
        console.print(f"tests: {t.command} → exit {t.exit_code} ({t.passed or 0} passed, {t.failed or 0} failed){sandbox}")
    usage = Table(show_header=True, box=None, title="tokens by role")
    for column in ("role", "requests", "prompt", "cached", "completion", "reasoning", "seconds"):
        usage.add_column(column, justify="right" if column != "role" else "left")
    for role, u in report.usage.get("by_role", {}).items():
        usage.add_row(role, *(f"{u[k]:g}" for k in ("requests", "prompt_tokens", "cached_tokens",
                                                    "completion_tokens", "reasoning_tokens", "seconds")))
    console.print(usage)
    console.print(f"duration {report.duration_s:.1f}s")
