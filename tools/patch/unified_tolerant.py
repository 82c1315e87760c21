"""A forgiving reader for unified diffs as models write them.

It accepts wrong or missing hunk numbers and counts, missing `a/` `b/` prefixes, blank context
lines without their leading space, prose and Markdown fences around the diff, and git's extended
headers (new/deleted file, rename). It reports whether the diff was also well-formed, so the
caller can hand well-formed diffs to `unidiff`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.patch.binary import BINARY_DIFFER, index_hashes, read_section
from tools.patch.model import BinaryChange, FileEdit, Hunk, HunkLine, PatchParseError, no_newline_sides

DEV_NULL = "/dev/null"
_HEADER = re.compile(r"^@@+\s*(?:-(\d+)(?:,(\d+))?)?\s*(?:\+(\d+)(?:,(\d+))?)?\s*(?:@@+(.*))?$")
_GIT_DIFF = re.compile(r"^diff --git (\"?a/.+?\"?) (\"?b/.+?\"?)$")


@dataclass
class _Section:
    """One file's part of the diff while it is being read."""

    old: str | None = None
    new: str | None = None
    rename_from: str | None = None
    rename_to: str | None = None
    created: bool = False
    deleted: bool = False
    executable: bool | None = None
    hunks: list[Hunk] = field(default_factory=list)
    hashes: tuple[str, str] | None = None  # from git's `index OLD..NEW` line
    binary: BinaryChange | None = None
    from_git: bool = False


@dataclass
class TolerantResult:
    """The edits read, and whether every hunk had numbers and counts that agree with its body."""

    edits: list[FileEdit]
    well_formed: bool


def clean_path(raw: str) -> str:
    """A header path without git's quoting, a trailing timestamp, or surrounding blanks."""
    path = raw.split("\t", 1)[0].strip()
    if len(path) >= 2 and path[0] == path[-1] == '"':
        path = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        path = path.encode("latin-1", "ignore").decode("utf-8", "replace")
    return path


def strip_prefix(path: str) -> str:
    """`path` without git's `a/` or `b/` prefix."""
    return path[2:] if path.startswith(("a/", "b/")) else path


def is_file_header(lines: list[str], i: int) -> bool:
    """True when line i starts a new file: `diff --git`, or a `---` line followed by `+++`."""
    line = lines[i]
    if line.startswith("diff --git "):
        return True
    return line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def _read_body(lines: list[str], start: int, declared: tuple[int, int] | None) -> tuple[list[str], int]:
    """The raw body lines of a hunk starting at `start`, and the index just after them.

    A line without a valid prefix ends the hunk (prose after it), unless the declared counts are
    not reached yet and the next line continues the hunk: then it is a context line whose leading
    space was lost, and it is read as one.
    """
    body: list[str] = []
    j = start
    while j < len(lines):
        line = lines[j]
        if line.startswith("@@") or is_file_header(lines, j) or line.startswith(("```", "~~~")):
            break
        if line and line[0] not in " -+\\":
            if (declared is not None and _counts(body) == declared) or not _continues(lines, j + 1):
                break
            line = " " + line
        body.append(line)
        j += 1
    return body, j


def _continues(lines: list[str], j: int) -> bool:
    """True when line j is a hunk body line with a prefix (not a header, blank, or prose)."""
    return j < len(lines) and lines[j][:1] in (" ", "-", "+") and not is_file_header(lines, j) and bool(lines[j])


def _counts(body: list[str]) -> tuple[int, int]:
    old = sum(1 for line in body if not line or line[0] in " -")
    new = sum(1 for line in body if not line or line[0] in " +")
    return old, new


def _trim_trailing_blanks(body: list[str], declared: tuple[int, int] | None) -> list[str]:
    """Drop trailing bare empty lines unless the declared counts say they are blank context."""
    trimmed = list(body)
    while trimmed and trimmed[-1] == "":
        if declared is not None and _counts(trimmed) == declared:
            break
        trimmed.pop()
    return trimmed


@dataclass
class _Header:
    """What a `@@` line states: the old start, both counts, and the anchor text after it."""

    old_start: int | None = None
    declared: tuple[int, int] | None = None
    anchor: str | None = None


def _read_header(header: str) -> _Header:
    match = _HEADER.match(header.strip())
    if not match:
        return _Header()
    old_start = int(match.group(1)) if match.group(1) is not None else None
    declared = None
    if match.group(1) is not None and match.group(3) is not None:
        old_count = int(match.group(2)) if match.group(2) is not None else 1
        declared = (old_count, int(match.group(4)) if match.group(4) is not None else 1)
    return _Header(old_start, declared, (match.group(5) or "").strip() or None)


def _make_hunk(header: str, body: list[str]) -> tuple[Hunk, bool]:
    """A Hunk from its header and raw body, and whether header numbers and counts were exact."""
    stated = _read_header(header)
    old_start, declared, anchor = stated.old_start, stated.declared, stated.anchor
    body = _trim_trailing_blanks(body, declared)
    lines: list[HunkLine] = []
    old_marker = new_marker = False
    for raw in body:
        if raw.startswith("\\"):
            old_side, new_side = no_newline_sides(lines[-1].op if lines else None)
            old_marker, new_marker = old_marker or old_side, new_marker or new_side
            continue
        op = raw[0] if raw else " "
        lines.append(HunkLine(op, raw[1:]))  # type: ignore[arg-type]
    exact = declared is not None and _counts(body) == declared and "" not in body
    if old_start is not None and declared is not None and declared[0] == 0:
        old_start += 1  # `-N,0` means "after line N"; keep old_start as the first line replaced
    hunk = Hunk(lines=lines, old_start=old_start, header=header.strip(), anchor=anchor,
                no_newline_at_end=new_marker, old_no_newline=old_marker)
    return hunk, exact


def _git_header_line(section: _Section, line: str) -> bool:
    """Record a git extended header line; False when `line` is not one."""
    if line.startswith("new file mode"):
        section.created = True
        section.executable = line.rstrip().endswith("755")
    elif line.startswith("deleted file mode"):
        section.deleted = True
    elif line.startswith("rename from "):
        section.rename_from = clean_path(line[len("rename from "):])
    elif line.startswith("rename to "):
        section.rename_to = clean_path(line[len("rename to "):])
    elif line.startswith("index "):
        section.hashes = index_hashes(line)
    elif line.startswith(("similarity index", "old mode", "new mode", "dissimilarity index")):
        pass
    else:
        return False
    return True


def _finish(section: _Section) -> FileEdit:
    """The FileEdit a finished section describes."""
    edit = _edit_of(section)
    if section.binary is not None:
        if section.hunks:
            raise PatchParseError(f"{edit.path} has both text hunks and binary data")
        edit.binary = section.binary
        if section.hashes is not None:
            edit.binary.old_hash, edit.binary.new_hash = section.hashes
    return edit


def _edit_of(section: _Section) -> FileEdit:
    old = section.rename_from or section.old
    new = section.rename_to or section.new
    if section.created or old == DEV_NULL:
        if not new or new == DEV_NULL:
            raise PatchParseError("a new-file diff has no `+++` path for the file to create")
        return FileEdit("create", strip_prefix(new), section.hunks, executable=section.executable)
    if section.deleted or new == DEV_NULL:
        if not old:
            raise PatchParseError("a deleted-file diff has no `---` path")
        return FileEdit("delete", strip_prefix(old), section.hunks)
    old, new = old or new, new or old
    if old is None or new is None:
        raise PatchParseError("a hunk has no file header: put `--- a/PATH` and `+++ b/PATH` above it")
    if old.startswith("a/") and new.startswith("b/"):
        old, new = old[2:], new[2:]
    if strip_prefix(old) == strip_prefix(new):
        return FileEdit("update", old, section.hunks)
    return FileEdit("update", old, section.hunks, move_to=new)


def parse_tolerant(text: str) -> TolerantResult:
    """Read every file section and hunk of a unified diff, forgiving the usual model mistakes."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the split's empty tail after the last newline is no line of the patch
    sections: list[_Section] = []
    current: _Section | None = None
    well_formed = True
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            current = _Section(from_git=True)
            sections.append(current)
            git = _GIT_DIFF.match(line)
            if git:
                current.old, current.new = clean_path(git.group(1)), clean_path(git.group(2))
            i += 1
        elif is_file_header(lines, i):
            if current is None or current.hunks or (current.old is not None and not _from_git(lines, i)):
                current = _Section()
                sections.append(current)
            current.old, current.new = clean_path(line[4:]), clean_path(lines[i + 1][4:])
            i += 2
        elif line.startswith("@@"):
            if current is None:
                raise PatchParseError("a hunk has no file header: put `--- a/PATH` and `+++ b/PATH` above it")
            body, i = _read_body(lines, i + 1, _read_header(line).declared)
            hunk, exact = _make_hunk(line, body)
            well_formed = well_formed and exact
            if hunk.lines:
                current.hunks.append(hunk)
        elif line.strip() == "GIT binary patch" and current is not None and not current.hunks:
            current.binary, i = read_section(lines, i + 1)
            well_formed = False
        elif BINARY_DIFFER.match(line):
            current = _binary_differ(current, sections, line)
            well_formed = False
            i += 1
        else:
            if current is not None and not current.hunks:
                _git_header_line(current, line)
            i += 1
    return TolerantResult([_finish(s) for s in sections], well_formed)


def _binary_differ(current: _Section | None, sections: list[_Section], line: str) -> _Section:
    """Record git's `Binary files A and B differ` (a binary change without its content) on the
    `diff --git` section it belongs to, or on a section of its own."""
    if current is None or current.hunks or current.binary is not None or not current.from_git:
        match = BINARY_DIFFER.match(line)
        assert match is not None
        current = _Section(old=clean_path(match.group(1)), new=clean_path(match.group(2)))
        sections.append(current)
    current.binary = BinaryChange(None)
    return current


def _from_git(lines: list[str], i: int) -> bool:
    """True when the `---` header at i belongs to the `diff --git` section opened just above it."""
    j = i - 1
    while j >= 0 and not lines[j].startswith("diff --git "):
        if lines[j].startswith(("@@", "--- ", "+++ ")):
            return False
        j -= 1
    return j >= 0
