"""Unified diffs: well-formed ones are parsed with `unidiff`, the rest by the tolerant reader."""

from __future__ import annotations

import unidiff

from tools.patch.model import FileEdit, Hunk, HunkLine, no_newline_sides
from tools.patch.unified_tolerant import DEV_NULL, parse_tolerant, strip_prefix


def parse(text: str) -> list[FileEdit]:
    """The file edits of a unified diff (pure: reads no files)."""
    tolerant = parse_tolerant(text)
    if tolerant.well_formed:
        strict = _parse_strict(text)
        if strict is not None and _same_shape(strict, tolerant.edits):
            for mine, theirs in zip(tolerant.edits, strict):
                theirs.executable = mine.executable  # unidiff does not read file modes
            return strict
    return tolerant.edits


def _parse_strict(text: str) -> list[FileEdit] | None:
    """The edits as `unidiff` reads them, or None when it cannot read the text."""
    try:
        patch_set = unidiff.PatchSet(text)
    except unidiff.UnidiffParseError:
        return None
    return [_edit_from(patched) for patched in patch_set]


def _edit_from(patched: unidiff.PatchedFile) -> FileEdit:
    hunks = [_hunk_from(h) for h in patched]
    source = patched.source_file or DEV_NULL
    target = patched.target_file or DEV_NULL
    if patched.is_added_file or source == DEV_NULL:
        return FileEdit("create", strip_prefix(target), hunks)
    if patched.is_removed_file or target == DEV_NULL:
        return FileEdit("delete", strip_prefix(source), hunks)
    if source.startswith("a/") and target.startswith("b/"):
        source, target = source[2:], target[2:]
    if strip_prefix(source) == strip_prefix(target):
        return FileEdit("update", source, hunks)
    return FileEdit("update", source, hunks, move_to=target)


def _hunk_from(hunk: unidiff.Hunk) -> Hunk:
    lines: list[HunkLine] = []
    old_marker = new_marker = False
    for line in hunk:
        if line.line_type == "\\":
            old_side, new_side = no_newline_sides(lines[-1].op if lines else None)
            old_marker, new_marker = old_marker or old_side, new_marker or new_side
            continue
        lines.append(HunkLine(line.line_type, line.value.rstrip("\n")))
    start = hunk.source_start + (1 if hunk.source_length == 0 else 0)
    header = f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
    anchor = (hunk.section_header or "").strip() or None
    return Hunk(lines=lines, old_start=start, header=header, anchor=anchor,
                no_newline_at_end=new_marker, old_no_newline=old_marker)


def _same_shape(strict: list[FileEdit], tolerant: list[FileEdit]) -> bool:
    """True when both readers saw the same files and the same hunk bodies."""
    if len(strict) != len(tolerant):
        return False
    for a, b in zip(strict, tolerant):
        if (a.kind, a.path, a.move_to, len(a.hunks)) != (b.kind, b.path, b.move_to, len(b.hunks)):
            return False
        if any(x.lines != y.lines for x, y in zip(a.hunks, b.hunks)):
            return False
    return True
