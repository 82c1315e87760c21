"""What a batch leaves behind: the results JSONL, SWE-bench predictions, and a Markdown report.

The results file is append-only: one line per target as it finishes, flushed and fsynced before
the next, so a batch killed at any moment keeps every finished target, and `--resume` skips them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, Field, ValidationError

TargetStatus = Literal["succeeded", "unverified", "failed", "blocked", "budget_exhausted", "error",
                       "interrupted", "busy"]
# Not finished: `--resume` takes these targets up again (an interrupted run, or one another process held).
RETRIED = ("interrupted", "busy")


class TargetResult(BaseModel):
    """One results line (SPEC §8), plus the run id and model for `agent show` and predictions."""

    target: str
    repo: str
    vars: dict[str, str] = Field(default_factory=dict)
    status: TargetStatus
    branch: str | None = None
    commits: list[str] = Field(default_factory=list)
    patch: str = ""
    tests: dict[str, Any] | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0
    run_id: str | None = None
    model: str | None = None
    node: str | None = None  # the Ray node that ran it (`--ray`)

    @property
    def tokens(self) -> int:
        total = self.usage.get("total", {})
        return int(total.get("prompt_tokens", 0) + total.get("completion_tokens", 0))


class ResultsFile:
    """The results JSONL: read what is finished, append each new result durably."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def latest(self) -> dict[str, TargetResult]:
        """The last recorded result of each target id; torn or foreign lines are skipped."""
        last: dict[str, TargetResult] = {}
        if not self.path.is_file():
            return last
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    result = TargetResult.model_validate_json(line)
                except ValidationError:
                    continue
                last[result.target] = result
        return last

    def finished(self) -> dict[str, TargetResult]:
        """The targets that ran to an end, by id; an interrupted or busy one is not finished."""
        return {target: r for target, r in self.latest().items() if r.status not in RETRIED}

    def interrupted_runs(self) -> dict[str, str]:
        """Target id → run id of each target whose last run was interrupted or busy: `--resume` continues it."""
        return {target: r.run_id for target, r in self.latest().items() if r.status in RETRIED and r.run_id}

    def append(self, result: TargetResult) -> None:
        """One line, flushed and fsynced before returning; starts on a new line after a torn one."""
        line = result.model_dump_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+", encoding="utf-8") as handle:
                if handle.tell() > 0:
                    handle.seek(handle.tell() - 1)
                    if handle.read(1) != "\n":
                        line = "\n" + line
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text`: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def prediction(result: TargetResult, model: str) -> dict[str, str]:
    """A SWE-bench prediction: the target id as instance id, the run branch's whole diff as the patch."""
    return {"instance_id": result.target, "model_name_or_path": result.model or model, "model_patch": result.patch}


def write_predictions(path: Path, results: Iterable[TargetResult], model: str) -> None:
    lines = [json.dumps(prediction(r, model), ensure_ascii=False) for r in results]
    write_atomic(path, "".join(line + "\n" for line in lines))


def markdown_report(results: list[TargetResult], title: str) -> str:
    """Every target's status, tests, branch and tokens as a Markdown table, errors listed after it."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines = [f"# {title}", "", f"{len(results)} targets: {tally or 'none'}", "",
             "| target | status | tests | branch | commits | tokens | seconds |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {_cell(r.target)} | {r.status} | {tests_text(r.tests)} | {_cell(r.branch or '')} | "
                     f"{len(r.commits)} | {r.tokens} | {r.duration_s:.1f} |")
    errors = [r for r in results if r.error]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- **{_cell(r.target)}**: {_cell(r.error or '')}" for r in errors]
    return "\n".join(lines) + "\n"


def tests_text(tests: dict[str, Any] | None) -> str:
    """`exit 0 (12 passed)`, `exit 1 (2 failed, 10 passed)`, `no test ran`, or `-` when none were run."""
    if tests and tests.get("ran") is False:
        return "no test ran"
    if not tests or tests.get("exit_code") is None:
        return "-"
    counts = [f"{tests[k]} {k}" for k in ("failed", "passed") if tests.get(k)]
    return f"exit {tests['exit_code']}" + (f" ({', '.join(counts)})" if counts else "")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def report_path(results: Path) -> Path:
    """The Markdown report next to the results file: `results.jsonl` → `results.md`."""
    if results.suffix in ("", ".md"):
        return results.with_name(results.name + ".report.md")
    return results.with_suffix(".md")
