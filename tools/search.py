"""The search tool: a Python regex over the workspace's visible text files, as `file:line: text`.

Patterns are matched with the `regex` module, which reads Python's syntax and takes a timeout:
a pattern that backtracks without end (`(a|aa)+$` on a long line of `a`s) stops at the search's
time budget and the model reads that it did, instead of the run hanging. A linear-time engine
(RE2) would refuse the lookarounds and backreferences models write in Python patterns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import regex
from pydantic import Field

from tools.paths import confine
from tools.registry import ToolArgs, ToolContext, ToolResult
from tools.walk import list_workspace

MAX_MATCHES = 200
MAX_LINE_CHARS = 300
MAX_FILE_BYTES = 2_000_000
SEARCH_SECONDS = 3.0  # the whole search; a match that runs past it is stopped (within ~2x, by regex's own clock)


class SearchArgs(ToolArgs):
    """Search the repository's text files with a Python regular expression; answers 'file:line: text'
    lines. Ignored, binary and secret files are skipped."""

    pattern: str = Field(min_length=1, description="Python regular expression, matched against each line.")
    path: str | None = Field(None, description="Directory or file to search, relative to the repository root. Default: the root.")
    glob: str | None = Field(None, description="Only files matching this glob, e.g. '*.py'.")


@dataclass
class _Scan:
    """One search in progress: what it found, and when it must stop."""

    pattern: regex.Pattern[str]
    deadline: float
    matches: list[str] = field(default_factory=list)
    total: int = 0
    files_with_matches: int = 0
    skipped_large: int = 0
    searched: int = 0
    timed_out: bool = False

    def file(self, full: Path, shown_as: str) -> None:
        """Search one file; sets `timed_out` when the budget ran out in it."""
        if full.stat().st_size > MAX_FILE_BYTES:
            self.skipped_large += 1
            return
        data = full.read_bytes()
        if b"\0" not in data:
            found = self._lines(shown_as, data.decode("utf-8", "replace"))
            if found:
                self.files_with_matches += 1
                self.total += len(found)
                self.matches.extend(found[: max(MAX_MATCHES - len(self.matches), 0)])
        self.searched += not self.timed_out

    def _lines(self, shown_as: str, text: str) -> list[str]:
        found = []
        for number, line in enumerate(text.splitlines(), start=1):
            left = self.deadline - time.monotonic()
            try:
                hit = left > 0 and self.pattern.search(line, timeout=left) is not None
            except TimeoutError:
                left = 0
            if left <= 0:
                self.timed_out = True
                break
            if not hit:
                continue
            shown = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [...]"
            found.append(f"{shown_as}:{number}: {shown}")
        return found


def search(args: SearchArgs, ctx: ToolContext) -> ToolResult:
    """Every matching line (up to MAX_MATCHES), in path order, within SEARCH_SECONDS."""
    try:
        pattern = regex.compile(args.pattern)
    except regex.error as exc:
        return ToolResult(f"invalid regular expression {args.pattern!r}: {exc}", is_error=True)
    sub = args.path or "."
    target = confine(ctx.root, sub, secret_globs=ctx.secret_globs, user_files=ctx.user_files)
    if not target.exists():
        return ToolResult(f"{sub}: no such file or directory.", is_error=True)
    real_root = ctx.root.resolve()
    rel = target.relative_to(real_root).as_posix() if target != real_root else "."
    paths = list_workspace(ctx.root, rel, args.glob, ctx.secret_globs, ctx.user_files).paths
    scan = _Scan(pattern, time.monotonic() + SEARCH_SECONDS)
    for path in paths:
        scan.file(real_root / path, path)
        if scan.timed_out:
            break
    return ToolResult(_render(scan, len(paths), args.pattern), is_error=scan.timed_out and not scan.matches,
                      data={"matches": scan.total, "files": scan.files_with_matches, "timed_out": scan.timed_out})


def _render(scan: _Scan, candidates: int, pattern: str) -> str:
    lines = scan.matches or [f"No matches for {pattern!r}."]
    if scan.total > len(scan.matches):
        lines.append(f"[... {scan.total - len(scan.matches):,} more matches not shown ({scan.total:,} in "
                     f"{scan.files_with_matches} files); narrow the pattern, path or glob]")
    if scan.skipped_large:
        lines.append(f"[{scan.skipped_large} file(s) over {MAX_FILE_BYTES:,} bytes not searched]")
    if scan.timed_out:
        lines.append(f"[search stopped after {SEARCH_SECONDS:g} s, {scan.searched} of {candidates} files searched: "
                     "the pattern backtracks too much or the search is too wide; simplify the pattern "
                     "(avoid nested repeats such as (a+)+) or narrow the path or glob]")
    return "\n".join(lines)
