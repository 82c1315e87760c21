"""Where a hunk belongs in a file: the matching ladder.

Rungs, in order: exact at the stated line, exact anywhere, whitespace-normalised (trailing blanks,
then indentation and inner runs of blanks), then fuzzy (a few context lines may differ). The first
rung that finds the hunk decides; if it finds it in several places, line numbers or the hunk's
anchor line must point clearly at one, or the hunk is refused as ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tools.patch.fileview import FileView, Level, normalise
from tools.patch.fuzzy import Region, closest_region, fuzzy_hits, votes
from tools.patch.model import Hunk

MatchMethod = Literal["exact", "offset", "whitespace", "indent", "fuzzy", "line-number", "end-of-file", "new-file"]
ChosenBy = Literal["unique", "stated-line", "line-number", "anchor", "end-of-file"]
MissReason = Literal["not-found", "ambiguous", "no-context"]

_RUNGS: tuple[tuple[Level, MatchMethod], ...] = (("exact", "exact"), ("rstrip", "whitespace"), ("collapse", "indent"))


@dataclass(frozen=True)
class IndentShift:
    """Re-indents added lines the way the matched lines were re-indented."""

    old_prefix: str
    new_prefix: str

    def apply(self, line: str) -> str:
        """`line` with its indentation moved like the hunk's matched lines."""
        if line.strip() and line.startswith(self.old_prefix):
            return self.new_prefix + line[len(self.old_prefix):]
        return line


@dataclass
class Match:
    """Where a hunk goes: 0-based start and old-line count, and how it was found."""

    start: int
    length: int
    method: MatchMethod
    chosen_by: ChosenBy = "unique"
    similarity: float = 1.0
    shift: IndentShift | None = None


@dataclass
class Miss:
    """Why a hunk could not be placed, with what the refusal should show."""

    reason: MissReason
    candidates: list[int] = field(default_factory=list)
    closest: Region | None = None
    method: MatchMethod | None = None  # the rung that found several candidates


def locate(hunk: Hunk, view: FileView) -> Match | Miss:
    """Run the ladder for one hunk against one file."""
    old = hunk.old
    if not old:
        return _locate_insertion(hunk, view)
    stated = hunk.old_start - 1 if hunk.old_start is not None and hunk.old_start > 0 else None
    for level, method in _RUNGS:
        block = [normalise(level, line) for line in old]
        if stated is not None and view.keys(level)[stated:stated + len(block)] == block:
            return _finish(Match(stated, len(old), method, "stated-line"), hunk, view)
        found = view.occurrences(level, block)
        if not found:
            continue
        pick = choose(found, hunk, view)
        if pick is None:
            return Miss("ambiguous", sorted(found), method=method)
        start, chosen_by = pick
        method = "offset" if method == "exact" and stated is not None else method
        return _finish(Match(start, len(old), method, chosen_by), hunk, view)
    return _locate_fuzzy(hunk, view, stated)


def _locate_fuzzy(hunk: Hunk, view: FileView, stated: int | None) -> Match | Miss:
    tally = votes(hunk, view)
    hits = fuzzy_hits(hunk, view, tally)
    best = [h for h in hits if len(h.mismatches) == len(hits[0].mismatches)] if hits else []
    if not best:
        return Miss("not-found", closest=closest_region(hunk, view, tally, stated))
    pick = choose([h.start for h in best], hunk, view)
    if pick is None:
        return Miss("ambiguous", sorted(h.start for h in best), method="fuzzy")
    hit = next(h for h in best if h.start == pick[0])
    match = Match(hit.start, len(hunk.old), "fuzzy", pick[1], hit.similarity)
    return _finish(match, hunk, view, skip=set(hit.mismatches))


def _locate_insertion(hunk: Hunk, view: FileView) -> Match | Miss:
    """A hunk with nothing to find: only an empty file, the end, or a line number can place it."""
    if len(view) == 0:
        return Match(0, 0, "new-file")
    if hunk.at_end:
        return Match(len(view), 0, "end-of-file", "end-of-file")
    if hunk.old_start is not None and 0 < hunk.old_start <= len(view) + 1:
        return Match(hunk.old_start - 1, 0, "line-number", "line-number")
    return Miss("no-context")


def choose(starts: list[int], hunk: Hunk, view: FileView) -> tuple[int, ChosenBy] | None:
    """The one start the hunk means among several, or None when nothing points clearly at one."""
    if len(starts) == 1:
        return starts[0], "unique"
    if hunk.at_end:
        at_end = [s for s in starts if s + len(hunk.old) == len(view)]
        if len(at_end) == 1:
            return at_end[0], "end-of-file"
    if hunk.anchor:
        owner = _owned_by_anchor(starts, _anchor_lines(hunk.anchor, view))
        if owner is not None:
            return owner, "anchor"
    if hunk.old_start is not None:
        stated = hunk.old_start - 1
        ranked = sorted(starts, key=lambda s: abs(s - stated))
        nearest, second = (abs(s - stated) for s in ranked[:2])
        if second - nearest >= max(3, 2 * nearest):
            return ranked[0], "line-number"
    return None


def _anchor_lines(anchor: str, view: FileView) -> list[int]:
    """Where the anchor line (a `def`/`class` line named in the hunk header) occurs."""
    key = normalise("collapse", anchor)
    if len(key) < 4:
        return []
    return [pos for pos, line in enumerate(view.keys("collapse")) if line.startswith(key)]


def _owned_by_anchor(starts: list[int], anchors: list[int]) -> int | None:
    """The one start with an anchor line above it and no other start in between."""
    owned = [s for s in starts if any(a <= s and not any(a < o < s for o in starts) for a in anchors)]
    return owned[0] if len(owned) == 1 else None


def _finish(match: Match, hunk: Hunk, view: FileView, skip: set[int] | None = None) -> Match:
    """Attach the indentation shift for added lines when every matched line moved alike."""
    if match.method not in ("exact", "offset"):
        match.shift = _indent_shift(hunk.old, view.lines[match.start:match.start + match.length], skip or set())
    return match


def _indent_shift(old: list[str], actual: list[str], skip: set[int]) -> IndentShift | None:
    shifts = {_shift_of(patch_line, file_line) for k, (patch_line, file_line) in enumerate(zip(old, actual))
              if k not in skip and patch_line.strip()}
    if len(shifts) != 1:
        return None
    shift = shifts.pop()
    return None if shift.old_prefix == shift.new_prefix else shift


def _shift_of(patch_line: str, file_line: str) -> IndentShift:
    patch_indent = patch_line[:len(patch_line) - len(patch_line.lstrip())]
    file_indent = file_line[:len(file_line) - len(file_line.lstrip())]
    common = 0
    while common < min(len(patch_indent), len(file_indent)) and patch_indent[-1 - common] == file_indent[-1 - common]:
        common += 1
    return IndentShift(patch_indent[:len(patch_indent) - common], file_indent[:len(file_indent) - common])
