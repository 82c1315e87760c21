"""The file tools: read_file, list_files, write_file and write_patch. Every path goes through confine()."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from pydantic import Field

from tools.paths import confine
from tools.registry import ToolArgs, ToolContext, ToolResult
from tools.walk import list_workspace

READ_WINDOW_LINES = 400
READ_WINDOW_CHARS = 40_000
READ_MAX_BYTES = 10_000_000
LIST_CAP = 1000
NEW_FILE_MODE = 0o644


class ReadFileArgs(ToolArgs):
    """Read a text file of the repository, with line numbers. Large files come in windows of up to
    400 lines; ask for the next window with start_line."""

    path: str = Field(description="File path relative to the repository root, e.g. 'src/app.py'.")
    start_line: int | None = Field(None, ge=1, description="First line to show (1-based). Default 1.")
    end_line: int | None = Field(None, ge=1, description="Last line to show, inclusive. Default: one window.")


class ListFilesArgs(ToolArgs):
    """List the repository's files (honours .gitignore; secret files are never listed)."""

    path: str | None = Field(None, description="Directory to list, relative to the repository root. Default: the root.")
    glob: str | None = Field(None, description="Only files matching this glob, e.g. '*.py' or 'src/**/test_*.py'.")


class WriteFileArgs(ToolArgs):
    """Create a file or replace a whole file with new content. Prefer write_patch for edits to existing files."""

    path: str = Field(description="File path relative to the repository root; parent directories are created.")
    content: str = Field(description="The complete new content of the file.")


class WritePatchArgs(ToolArgs):
    """Apply a patch to the repository, atomically: every file changes or none does. Accepts a unified
    diff, SEARCH/REPLACE blocks, or a '*** Begin Patch' patch."""

    patch: str = Field(min_length=1, description="The patch text.")


def read_file(args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
    """A window of the file's lines, numbered, with a note on how to get the next one."""
    target = confine(ctx.root, args.path, secret_globs=ctx.secret_globs, user_files=ctx.user_files)
    text_or_error = _read_text(target, args.path)
    if isinstance(text_or_error, ToolResult):
        return text_or_error
    lines = text_or_error.split("\n")
    if lines[-1] == "":
        lines.pop()
    total = len(lines)
    if total == 0:
        return ToolResult(f"{args.path}: empty file (0 lines)", data={"lines": 0})
    start = args.start_line or 1
    if start > total:
        return ToolResult(f"{args.path}: start_line {start} is past the end of the file ({total} lines).", is_error=True)
    if args.end_line is not None and args.end_line < start:
        return ToolResult(f"{args.path}: end_line {args.end_line} is before start_line {start}.", is_error=True)
    last = min(args.end_line or total, total, start + READ_WINDOW_LINES - 1)
    width = len(str(last))
    budget = min(READ_WINDOW_CHARS, ctx.output_cap - 200)
    shown: list[str] = []
    used = 0
    for number in range(start, last + 1):
        rendered = f"{number:>{width}}\t{lines[number - 1].removesuffix(chr(13))}"
        if shown and used + len(rendered) + 1 > budget:
            break
        shown.append(rendered)
        used += len(rendered) + 1
    end = start + len(shown) - 1
    header = f"{args.path}: lines {start}\u2013{end} of {total}"
    if "\r\n" in text_or_error:
        header += " (CRLF line endings)"
    body = "\n".join(shown)
    wanted_end = min(args.end_line or total, total)
    if end < wanted_end:
        body += f"\n[lines {start}\u2013{end} of {total}; call again with start_line={end + 1} for more]"
    return ToolResult(f"{header}\n{body}", data={"lines": total, "start": start, "end": end})


def _read_text(target: Path, shown_as: str) -> str | ToolResult:
    """The file's text, or an error result saying why it cannot be shown."""
    if not target.exists():
        return ToolResult(f"{shown_as}: no such file. Use list_files to see what exists.", is_error=True)
    if target.is_dir():
        return ToolResult(f"{shown_as}: is a directory; use list_files to see its files.", is_error=True)
    size = target.stat().st_size
    if size > READ_MAX_BYTES:
        return ToolResult(f"{shown_as}: too large to read ({size:,} bytes); use search to find the part you need.",
                          is_error=True)
    data = target.read_bytes()
    if b"\0" in data:
        return ToolResult(f"{shown_as}: binary file ({size:,} bytes); not shown.", is_error=True)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return ToolResult(f"{shown_as}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, "
                          f"offset {exc.start}); not shown.", is_error=True)


def list_files(args: ListFilesArgs, ctx: ToolContext) -> ToolResult:
    """The visible files under `path`, one per line, capped with a count of what was left out."""
    sub = args.path or "."
    target = confine(ctx.root, sub, secret_globs=ctx.secret_globs, user_files=ctx.user_files)
    if not target.exists():
        return ToolResult(f"{sub}: no such file or directory.", is_error=True)
    rel = target.relative_to(ctx.root.resolve()).as_posix() if target != ctx.root.resolve() else "."
    listing = list_workspace(ctx.root, rel, args.glob, ctx.secret_globs, ctx.user_files)
    shown = listing.paths[:LIST_CAP]
    notes: list[str] = []
    if len(listing.paths) > LIST_CAP:
        notes.append(f"[... {len(listing.paths) - LIST_CAP:,} more files not shown; narrow with path or glob]")
    if listing.secrets_hidden:
        notes.append(f"[{listing.secrets_hidden} secret file(s) hidden]")
    if not shown:
        scope = f" matching {args.glob!r}" if args.glob else ""
        text = f"No files{scope} under {sub}."
    else:
        text = "\n".join(shown)
    text = "\n".join([text, *notes])
    return ToolResult(text, data={"files": len(listing.paths), "secrets_hidden": listing.secrets_hidden})


def write_file(args: WriteFileArgs, ctx: ToolContext) -> ToolResult:
    """Replace or create the file atomically; an existing file keeps its mode."""
    target = confine(ctx.root, args.path, secret_globs=ctx.secret_globs, writing=True,
                     user_files=ctx.user_files)
    if target.is_dir():
        return ToolResult(f"{args.path}: is a directory; give a file path.", is_error=True)
    existed = target.exists()
    mode = stat.S_IMODE(target.stat().st_mode) if existed else NEW_FILE_MODE
    data = args.content.encode("utf-8", "surrogatepass")
    atomic_write(target, data, mode)
    lines = args.content.count("\n") + (0 if args.content.endswith("\n") or not args.content else 1)
    verb = "Replaced" if existed else "Created"
    unit = "line" if lines == 1 else "lines"
    return ToolResult(f"{verb} {args.path} ({lines} {unit}, {len(data):,} bytes).",
                      data={"path": args.path, "created": not existed, "bytes": len(data)})


def atomic_write(target: Path, data: bytes, mode: int) -> None:
    """Write `data` to a temp file beside `target`, then rename it over: readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_patch(args: WritePatchArgs, ctx: ToolContext) -> ToolResult:
    """Hand the patch to the patch engine (or the context's hook); its message goes back to the model."""
    if ctx.patch_hook is not None:
        outcome = ctx.patch_hook(args.patch, ctx.root)
    else:
        from tools.patch import apply_patch  # the engine is its own package; loaded only when used

        outcome = apply_patch(args.patch, ctx.root, secret_globs=ctx.secret_globs, user_files=ctx.user_files)
    return ToolResult(outcome.message, is_error=not outcome.ok, data={"applied": bool(outcome.ok)})
