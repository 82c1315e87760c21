"""The search tool: a Python regex over the workspace's visible text files, as `file:line: text`."""

from __future__ import annotations

import re

from pydantic import Field

from tools.paths import confine
from tools.registry import ToolArgs, ToolContext, ToolResult
from tools.walk import list_workspace

MAX_MATCHES = 200
MAX_LINE_CHARS = 300
MAX_FILE_BYTES = 2_000_000


class SearchArgs(ToolArgs):
    """Search the repository's text files with a Python regular expression; answers 'file:line: text'
    lines. Ignored, binary and secret files are skipped."""

    pattern: str = Field(min_length=1, description="Python regular expression, matched against each line.")
    path: str | None = Field(None, description="Directory or file to search, relative to the repository root. Default: the root.")
    glob: str | None = Field(None, description="Only files matching this glob, e.g. '*.py'.")


def search(args: SearchArgs, ctx: ToolContext) -> ToolResult:
    """Every matching line (up to MAX_MATCHES), in path order."""
    try:
        regex = re.compile(args.pattern)
    except re.error as exc:
        return ToolResult(f"invalid regular expression {args.pattern!r}: {exc}", is_error=True)
    sub = args.path or "."
    target = confine(ctx.root, sub, secret_globs=ctx.secret_globs)
    if not target.exists():
        return ToolResult(f"{sub}: no such file or directory.", is_error=True)
    real_root = ctx.root.resolve()
    rel = target.relative_to(real_root).as_posix() if target != real_root else "."
    matches: list[str] = []
    total = 0
    files_with_matches = 0
    skipped_large = 0
    for path in list_workspace(ctx.root, rel, args.glob, ctx.secret_globs).paths:
        full = real_root / path
        if full.stat().st_size > MAX_FILE_BYTES:
            skipped_large += 1
            continue
        data = full.read_bytes()
        if b"\0" in data:
            continue
        found = _search_text(regex, path, data.decode("utf-8", "replace"))
        if found:
            files_with_matches += 1
            total += len(found)
            matches.extend(found[: max(MAX_MATCHES - len(matches), 0)])
    return ToolResult(_render(matches, total, files_with_matches, skipped_large, args.pattern),
                      data={"matches": total, "files": files_with_matches})


def _search_text(regex: re.Pattern[str], path: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if regex.search(line):
            shown = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [...]"
            found.append(f"{path}:{number}: {shown}")
    return found


def _render(matches: list[str], total: int, files: int, skipped_large: int, pattern: str) -> str:
    lines = matches or [f"No matches for {pattern!r}."]
    if total > len(matches):
        lines.append(f"[... {total - len(matches):,} more matches not shown ({total:,} in {files} files); "
                     "narrow the pattern, path or glob]")
    if skipped_large:
        lines.append(f"[{skipped_large} file(s) over {MAX_FILE_BYTES:,} bytes not searched]")
    return "\n".join(lines)
