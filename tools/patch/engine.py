"""Plan a parsed patch against the repository, in memory: locate every hunk, build every new file,
and report per file and per hunk. Nothing here writes to disk."""

from __future__ import annotations

from tools.patch.fileview import FileView
from tools.patch.binary import plan_binary
from tools.patch.elide import unpaired_marker
from tools.patch.indent import Language, Placement, language_of, reindent_added
from tools.patch.match import Match, Miss, evidence, locate
from tools.patch.model import FileEdit, Hunk, ParsedPatch
from tools.patch.report import miss_text
from tools.patch.result import FileOutcome, HunkOutcome
from tools.patch.textfile import Blob, TextFile
from tools.patch.tree import EditRefused, VirtualTree


def plan(parsed: ParsedPatch, tree: VirtualTree) -> list[FileOutcome]:
    """Apply every edit to `tree` in memory, one outcome per edit (refused ones say why)."""
    outcomes = []
    for edit in parsed.edits:
        try:
            outcomes.append(_plan_edit(edit, tree))
        except EditRefused as exc:
            outcomes.append(FileOutcome(edit.path, "refused", False, edit.move_to, error=str(exc)))
    return outcomes


def _plan_edit(edit: FileEdit, tree: VirtualTree) -> FileOutcome:
    if edit.binary is not None:
        return plan_binary(edit, tree)
    if edit.kind == "create":
        return _create(edit, tree)
    if edit.kind == "delete":
        rel = tree.existing(edit.path)
        tree.entry(rel).file = None
        return FileOutcome(rel, "deleted", True)
    return _update(edit, tree)


def _create(edit: FileEdit, tree: VirtualTree) -> FileOutcome:
    rel = tree.fresh(edit.path)
    entry = tree.entry(rel)
    lines = [text for hunk in edit.hunks for text in hunk.new]
    final_newline = not any(h.no_newline_at_end for h in edit.hunks)
    if isinstance(entry.file, Blob):
        raise EditRefused(f"{rel}: the patch creates this file as text, but it already exists as a binary file")
    if entry.file is not None and any(line.strip() for line in entry.file.lines):
        if entry.file.lines == lines:
            return FileOutcome(rel, "created", True, error=None)
        raise EditRefused(f"{rel}: the patch creates this file, but it already exists with other content; "
                          "send hunks that change it instead")
    new = TextFile.new(lines, final_newline=final_newline)
    if entry.file is not None:  # an existing empty file keeps its encoding and mode
        new.encoding, new.bom, new.mode = entry.file.encoding, entry.file.bom, entry.file.mode
    elif edit.executable:
        new.mode = 0o755
    entry.file = new
    return FileOutcome(rel, "created", True)


def _update(edit: FileEdit, tree: VirtualTree) -> FileOutcome:
    rel, move_to = _update_paths(edit, tree)
    entry = tree.entry(rel)
    assert entry.file is not None
    if isinstance(entry.file, Blob) and edit.hunks:
        raise EditRefused(f"{rel}: cannot patch it as text: {entry.file.reason}")
    if not edit.hunks and move_to is None:
        raise EditRefused(f"{rel}: the patch names this file but has no hunks for it")
    if isinstance(entry.file, Blob):  # a pure rename of a binary file
        tree.entry(move_to).file, entry.file = entry.file, None  # type: ignore[arg-type]
        return FileOutcome(rel, "renamed", True, move_to)
    view = FileView(entry.file.lines)
    results: list[tuple[Hunk, Match | Miss]] = [(hunk, locate(hunk, view)) for hunk in edit.hunks]
    hunks = [_hunk_outcome(i, len(results), hunk, found, view) for i, (hunk, found) in enumerate(results, 1)]
    placed = [(hunk, found) for hunk, found in results if isinstance(found, Match)]
    overlap = _overlap(results)
    if overlap:
        hunks[overlap[1]].ok, hunks[overlap[1]].error = False, (
            f"hunk {overlap[1] + 1} overlaps hunk {overlap[0] + 1} (both change lines near "
            f"{hunks[overlap[0]].line}); merge them into one hunk")
    if not all(h.ok for h in hunks):
        return FileOutcome(rel, "refused", False, move_to, hunks)
    _splice(entry.file, sorted(placed, key=lambda p: p[1].start), language_of(rel))
    if move_to is not None:
        tree.entry(move_to).file, entry.file = entry.file, None
        return FileOutcome(rel, "renamed", True, move_to, hunks)
    return FileOutcome(rel, "applied", True, None, hunks)


def _update_paths(edit: FileEdit, tree: VirtualTree) -> tuple[str, str | None]:
    """The file to change and, when it moves, where to; a move whose source is gone but whose
    destination exists is read as an update of the destination."""
    if edit.move_to is not None and not tree.finds(edit.path) and tree.finds(edit.move_to):
        return tree.existing(edit.move_to), None
    rel = tree.existing(edit.path)
    if edit.move_to is None:
        return rel, None
    dest = tree.fresh(edit.move_to)
    if dest == rel:
        return rel, None
    if tree.exists(dest):
        raise EditRefused(f"{rel}: cannot move it to {dest}, which already exists")
    return rel, dest


def _hunk_outcome(index: int, total: int, hunk: Hunk, found: Match | Miss, view: FileView) -> HunkOutcome:
    header = hunk.header or "@@"
    if all(line.op == " " for line in hunk.lines):
        return HunkOutcome(index, header, False, error=(
            f"hunk {index} of {total} ({header}) changes nothing: it has no '-' or '+' lines (a line without "
            "a leading ' ', '-' or '+' may have cut it short)"))
    if isinstance(found, Miss):
        return HunkOutcome(index, header, False, error=miss_text(index, total, hunk, found, view))
    marker = unpaired_marker(found.hunk or hunk)
    if marker is not None:
        return HunkOutcome(index, header, False, error=(
            f"hunk {index} of {total} ({header}) adds the line {marker.strip()!r}: it stands for code the "
            "patch leaves out and would be written into the file as is; put it on an unchanged (context) "
            "line, the same in the old and new text, or write the lines out"))
    line = found.start + 1
    offset = line - hunk.old_start if hunk.old_start is not None and found.length else None
    return HunkOutcome(index, header, True, found.method, line, offset, round(found.similarity, 3))


def _overlap(results: list[tuple[Hunk, Match | Miss]]) -> tuple[int, int] | None:
    """Indexes (in patch order) of two hunks that claim the same lines, if any."""
    spans = sorted((m.start, m.start + m.length, i) for i, (_, m) in enumerate(results) if isinstance(m, Match))
    for (s1, e1, i1), (s2, _, i2) in zip(spans, spans[1:]):
        if s2 < e1 or (s2 == s1 and e1 == s1):
            return min(i1, i2), max(i1, i2)
    return None


def _splice(file: TextFile, placed: list[tuple[Hunk, Match]], language: Language) -> None:
    """Replace each matched region with the hunk's new lines, bottom-up so starts stay valid.
    Context lines keep the file's own text and line ending; added lines take the file's newline
    and indentation."""
    original = list(file.lines)
    view = FileView(original)
    for patch_hunk, match in reversed(placed):
        hunk = match.hunk or patch_hunk
        end = match.start + match.length
        region = list(zip(file.lines[match.start:end], file.endings[match.start:end]))
        new, added, endings = [], [], []
        k = 0
        for line in hunk.lines:
            if line.op == "-":
                k += 1
                continue
            new.append(line.text if line.op == "+" else region[k][0])
            added.append(line.op == "+")
            endings.append(file.newline if line.op == "+" else region[k][1])
            k += line.op == " "
        place = Placement(language, original, match.start, evidence(match, patch_hunk, view),
                          match.method in ("exact", "offset"))
        file.lines[match.start:end] = reindent_added(place, new, added)
        file.endings[match.start:end] = endings
        if end == len(original) and hunk.old_no_newline != hunk.no_newline_at_end:
            file.final_newline = not hunk.no_newline_at_end
