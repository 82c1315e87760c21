"""Search/replace blocks: a path line, then `<<<<<<< SEARCH`, the old text, `=======`, the new
text, `>>>>>>> REPLACE`. Each block is one edit; blocks on one file apply in order."""

from __future__ import annotations

import difflib
import re

from tools.patch.model import FileEdit, Hunk, HunkLine, PatchParseError

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_PATHLIKE = re.compile(r"[\w.\-/\\]+\.[\w]+|[\w.\-]+/[\w.\-/]+")


def is_search_marker(line: str) -> bool:
    """True for a `<<<<<<< SEARCH` line."""
    return _SEARCH.match(line) is not None


def parse(text: str) -> list[FileEdit]:
    """One edit per block, in order (pure: reads no files)."""
    lines = text.split("\n")
    edits: list[FileEdit] = []
    path: str | None = None
    i, block_end = 0, 0
    while i < len(lines):
        if not is_search_marker(lines[i]):
            i += 1
            continue
        path = _path_above(lines[block_end:i]) or path
        if path is None:
            raise PatchParseError(f"search/replace block {len(edits) + 1} has no file path on the line above it")
        search, i = _until(lines, i + 1, _DIVIDER, "=======", len(edits) + 1)
        replace, i = _until(lines, i, _REPLACE, ">>>>>>> REPLACE", len(edits) + 1)
        edits.append(block_edit(path, search, replace, len(edits) + 1))
        block_end = i
    return edits


def block_edit(path: str, search: list[str], replace: list[str], number: int = 1) -> FileEdit:
    """The edit for one block: a create when SEARCH is empty, else one hunk whose context and
    removed lines come from diffing SEARCH with REPLACE."""
    if not any(line.strip() for line in search):
        return FileEdit("create", path, [Hunk([HunkLine("+", line) for line in replace], header=f"SEARCH block {number}, empty")])
    lines: list[HunkLine] = []
    matcher = difflib.SequenceMatcher(None, search, replace, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            lines.extend(HunkLine(" ", line) for line in search[a0:a1])
        else:
            lines.extend(HunkLine("-", line) for line in search[a0:a1])
            lines.extend(HunkLine("+", line) for line in replace[b0:b1])
    return FileEdit("update", path, [Hunk(lines, header=f"SEARCH block {number}")])


def _until(lines: list[str], start: int, end: re.Pattern[str], name: str, block: int) -> tuple[list[str], int]:
    """The lines from `start` up to the marker matching `end`, and the index after the marker."""
    for j in range(start, len(lines)):
        if end.match(lines[j]):
            return lines[start:j], j + 1
    raise PatchParseError(f"search/replace block {block} is missing its `{name}` line")


def _path_above(lines: list[str]) -> str | None:
    """The file path written on the nearest non-blank, non-fence line above a block."""
    for line in reversed(lines):
        text = line.strip()
        if not text or text.startswith(("```", "~~~")):
            continue
        return _clean_path(text)
    return None


def _clean_path(text: str) -> str | None:
    """The path in a line like `src/app.py`, `**src/app.py**`, or `File: src/app.py:`."""
    text = text.strip("*`#:> \t").removeprefix("File:").removeprefix("Path:").strip("*`: \t")
    if text and not any(ch.isspace() for ch in text):
        return text
    found = _PATHLIKE.findall(text)
    return found[-1].strip(".,:;") if found else None
