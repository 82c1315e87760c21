"""Where a hunk belongs in a file: the matching ladder.

Rungs, in order: exact at the stated line, exact anywhere, whitespace-normalised (trailing blanks,
then indentation and inner runs of blanks), then fuzzy (a few context lines may differ). The first
rung that finds the hunk decides; if it finds it in several places, line numbers or the hunk's
anchor line must point clearly at one, or the hunk is refused as ambiguous.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from tools.patch.fileview import FileView, Level, normalise
from tools.patch.indent import indent_of
from tools.patch.fuzzy import Region, closest_region, fuzzy_hits, stale_hits, votes
from tools.patch.elide import fit_elided, has_elision, trim_blank_ends
from tools.patch.model import Hunk

MatchMethod = Literal["exact", "offset", "whitespace", "indent", "fuzzy", "stale", "elided", "line-number",
                      "end-of-file", "new-file"]
ChosenBy = Literal["unique", "stated-line", "line-number", "anchor", "end-of-file"]
MissReason = Literal["not-found", "ambiguous", "no-context"]

_RUNGS: tuple[tuple[Level, MatchMethod], ...] = (("exact", "exact"), ("rstrip", "whitespace"), ("collapse", "indent"))


@dataclass
class Match:
    """Where a hunk goes: 0-based start and old-line count, and how it was found."""

    start: int
    length: int
    method: MatchMethod
    chosen_by: ChosenBy = "unique"
    similarity: float = 1.0
    hunk: Hunk | None = None  # the hunk as placed, when it differs from the patch's (trimmed, elided)
    unmatched: frozenset[int] = frozenset()  # old-line offsets that do not show the patch's indentation


@dataclass
class Miss:
    """Why a hunk could not be placed, with what the refusal should show."""

    reason: MissReason
    candidates: list[int] = field(default_factory=list)
    closest: Region | None = None
    method: MatchMethod | None = None  # the rung that found several candidates


def locate(hunk: Hunk, view: FileView) -> Match | Miss:
    """Run the ladder for one hunk against one file: as written, then without blank lines at its
    ends that the file may not have, then with its elided stretches (`...`) filled from the file."""
    found = _ladder(hunk, view)
    trimmed = trim_blank_ends(hunk)
    if trimmed is not None:
        found = _prefer(found, _ladder(trimmed, view), trimmed, hunk)
    if isinstance(found, Miss) and found.reason == "not-found" and has_elision(hunk):
        elided = _locate_elided(hunk, view)
        if elided is not None:
            return elided
    return found


def _ladder(hunk: Hunk, view: FileView) -> Match | Miss:
    old = hunk.old
    if not old:
        return _locate_insertion(hunk, view)
    stated = _stated(hunk)
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


def _stated(hunk: Hunk) -> int | None:
    return hunk.old_start - 1 if hunk.old_start is not None and hunk.old_start > 0 else None


def _prefer(full: Match | Miss, trimmed: Match | Miss, short: Hunk, hunk: Hunk) -> Match | Miss:
    """The hunk as written, or without its blank end lines: the one that fits, and when both fit
    in different places, the one nearer the stated line (a blank line the header count made up
    must not carry the hunk to another place where a blank line follows similar lines)."""
    if isinstance(trimmed, Match):
        trimmed.hunk = short
    if isinstance(full, Miss):
        return trimmed if isinstance(trimmed, Match) or trimmed.reason == "ambiguous" else full
    if isinstance(trimmed, Miss) or trimmed.start == full.start:
        return full
    stated = _stated(hunk)
    if stated is not None and abs(trimmed.start - stated) < abs(full.start - stated):
        return trimmed
    return full


def _locate_elided(hunk: Hunk, view: FileView) -> Match | Miss | None:
    fit = fit_elided(hunk, view)
    if fit is None:
        return None
    if isinstance(fit, list):
        return Miss("ambiguous", fit, method="elided")
    match = Match(fit.start, len(fit.hunk.old), "elided", "unique", hunk=fit.hunk)
    match.unmatched = frozenset(fit.filled)
    return match


def _locate_fuzzy(hunk: Hunk, view: FileView, stated: int | None) -> Match | Miss:
    tally = votes(hunk, view)
    hits = fuzzy_hits(hunk, view, tally)
    best = [h for h in hits if len(h.mismatches) == len(hits[0].mismatches)] if hits else []
    if not best:
        return _locate_stale(hunk, view, tally, stated)
    pick = choose([h.start for h in best], hunk, view)
    if pick is None:
        return Miss("ambiguous", sorted(h.start for h in best), method="fuzzy")
    hit = next(h for h in best if h.start == pick[0])
    match = Match(hit.start, len(hunk.old), "fuzzy", pick[1], hit.similarity)
    return _finish(match, hunk, view, skip=set(hit.mismatches))


def _locate_stale(hunk: Hunk, view: FileView, tally: Counter[int], stated: int | None) -> Match | Miss:
    """More context drift, for a region that is the only one where the removed lines all fit."""
    hits = stale_hits(hunk, view, tally)
    if not hits:
        return Miss("not-found", closest=closest_region(hunk, view, tally, stated))
    if len(hits) > 1:
        return Miss("ambiguous", [h.start for h in hits], method="stale")
    hit = hits[0]
    match = Match(hit.start, len(hunk.old), "stale", "unique", hit.similarity)
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
    if hunk.at_end or hunk.old_no_newline:
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
    """Record the lines that say nothing about indentation (fuzzy mismatches)."""
    match.unmatched = frozenset(skip or ())
    return match


def evidence(match: Match, hunk: Hunk, view: FileView) -> list[tuple[str, str]]:
    """(patch, file) indentation of each non-blank old line the match paired with a file line."""
    placed = match.hunk or hunk
    actual = view.lines[match.start:match.start + match.length]
    return [(indent_of(patch_line), indent_of(file_line))
            for k, (patch_line, file_line) in enumerate(zip(placed.old, actual))
            if k not in match.unmatched and patch_line.strip()]
