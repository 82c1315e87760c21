"""The `*** Begin Patch` format: `*** Add File:`, `*** Update File:` (+ `*** Move to:`),
`*** Delete File:`, and `@@` sections of context, `-` and `+` lines."""

from __future__ import annotations

import re

from tools.patch.model import FileEdit, Hunk, HunkLine, PatchParseError

_FILE_HEADER = re.compile(r"^\*\*\* (Add|Update|Delete) File:\s*(.+?)\s*$")
_MOVE = re.compile(r"^\*\*\* Move to:\s*(.+?)\s*$")
_NUMBERS = re.compile(r"^-(\d+)(?:,(\d+))?\s+\+\d+(?:,\d+)?\s*@@\s*(.*)$")


def is_file_header(line: str) -> bool:
    """True for an `*** Add File:`, `*** Update File:` or `*** Delete File:` line."""
    return _FILE_HEADER.match(line) is not None


def parse(text: str) -> list[FileEdit]:
    """The file edits of a `*** Begin Patch` patch (pure: reads no files)."""
    edits: list[FileEdit] = []
    current: FileEdit | None = None
    body: list[str] = []
    for line in _patch_lines(text):
        header = _FILE_HEADER.match(line)
        move = _MOVE.match(line)
        if header:
            _close(current, body)
            kind = {"Add": "create", "Update": "update", "Delete": "delete"}[header.group(1)]
            current = FileEdit(kind, header.group(2))  # type: ignore[arg-type]
            edits.append(current)
            body = []
        elif move and current is not None:
            current.move_to = move.group(1)
        elif current is None:
            if line.strip():
                raise PatchParseError(f"line {line!r} comes before any `*** Update File:` / `*** Add File:` line")
        else:
            body.append(line)
    _close(current, body)
    return edits


def _patch_lines(text: str) -> list[str]:
    """The lines between `*** Begin Patch` and `*** End Patch`, fences and prose dropped."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == "*** Begin Patch"]
    begin = starts[0] + 1 if starts else next(i for i, line in enumerate(lines) if is_file_header(line))
    out: list[str] = []
    for line in lines[begin:]:
        if line.strip() == "*** End Patch":
            break
        if line.startswith(("```", "~~~")):
            continue
        out.append(line)
    return out


def _close(edit: FileEdit | None, body: list[str]) -> None:
    """Turn the body lines collected for `edit` into its hunks or new content."""
    if edit is None:
        return
    if edit.kind == "create":
        content = _trim_blank_ends(body)
        edit.hunks = [Hunk([HunkLine("+", line[1:] if line.startswith("+") else line) for line in content])]
    elif edit.kind == "update":
        edit.hunks = _sections(body, edit.path)
    elif any(line.strip() for line in body):
        raise PatchParseError(f"`*** Delete File: {edit.path}` must not be followed by lines")


def _sections(body: list[str], path: str) -> list[Hunk]:
    """The `@@` sections of an update, each one hunk."""
    hunks: list[Hunk] = []
    header, lines, at_end = "", [], False
    for raw in body + ["@@"]:
        if raw.startswith("@@") or raw.strip() == "*** End of File":
            if raw.strip() == "*** End of File":
                at_end = True
                continue
            if any(line.strip() for line in lines):
                hunks.append(_hunk(header, lines, at_end, path))
            header, lines, at_end = raw, [], False
        else:
            lines.append(raw)
    if not hunks:
        raise PatchParseError(f"`*** Update File: {path}` has no lines to change")
    return hunks


def _hunk(header: str, raw_lines: list[str], at_end: bool, path: str) -> Hunk:
    lines: list[HunkLine] = []
    for raw in _trim_blank_ends(raw_lines):
        if raw and raw[0] not in " -+":
            raise PatchParseError(
                f"in `*** Update File: {path}`, line {raw!r} does not start with ' ', '-' or '+'"
            )
        lines.append(HunkLine(raw[0] if raw else " ", raw[1:]))  # type: ignore[arg-type]
    rest = header[2:].strip()
    numbers = _NUMBERS.match(rest.lstrip("@ ").strip()) if rest.startswith("-") else None
    old_start = int(numbers.group(1)) if numbers else None
    anchor = (numbers.group(3) if numbers else rest).strip() or None
    return Hunk(lines=lines, old_start=old_start, header=header.strip() or "@@", anchor=anchor, at_end=at_end)


def _trim_blank_ends(lines: list[str]) -> list[str]:
    """`lines` without bare empty lines at either end (they only separate sections)."""
    start, end = 0, len(lines)
    while start < end and lines[start] == "":
        start += 1
    while end > start and lines[end - 1] == "":
        end -= 1
    return lines[start:end]
