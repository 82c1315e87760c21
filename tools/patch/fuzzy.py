"""The last rung of the ladder, and the closest region a refusal points at.

A fuzzy match lets a few context lines differ from the file (a misremembered line still resembles
the real one), never a removed line, and only where enough other lines agree. Candidate starts are
found by letting every hunk line that occurs in the file vote for the start it implies.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass

from tools.patch.fileview import FileView, normalise
from tools.patch.model import Hunk

# A misremembered context line must still look like the line it stands for.
MIN_LINE_SIMILARITY = 0.5
# One differing context line per hunk, or one in eight in long hunks.
CONTEXT_LINES_PER_MISMATCH = 8
# Lines that must agree, at least, and per differing line.
MIN_AGREEING_LINES = 3
AGREEING_PER_MISMATCH = 3
# Stale context: a long hunk whose removed lines all match may have one context line in three
# changed since (at most three), with at least twice as many agreeing context lines.
STALE_CONTEXT_PER_LINE = 3
STALE_MAX_LINES = 3
STALE_AGREEING_PER_LINE = 2


@dataclass
class FuzzyHit:
    """A start where the hunk fits with a few context lines differing."""

    start: int
    mismatches: list[int]  # offsets inside the hunk's old lines
    similarity: float


@dataclass
class Region:
    """The part of the file closest to what the hunk expected, for a refusal to point at."""

    start: int
    length: int
    similarity: float
    differences: list[str]


def _ops_and_keys(hunk: Hunk) -> tuple[list[str], list[str]]:
    old = [line for line in hunk.lines if line.op != "+"]
    return [line.op for line in old], [normalise("collapse", line.text) for line in old]


def votes(hunk: Hunk, view: FileView) -> Counter[int]:
    """For each start, how many non-blank old lines of the hunk occur there (whitespace-normalised);
    a start may leave the hunk running past the end of the file (a refusal still points there)."""
    _, keys = _ops_and_keys(hunk)
    index = view.index("collapse")
    tally: Counter[int] = Counter()
    for k, key in enumerate(keys):
        if key:
            for pos in index.get(key, ()):
                if pos - k >= 0:
                    tally[pos - k] += 1
    return tally


def allowed_mismatches(hunk: Hunk) -> int:
    """How many context lines may differ from the file."""
    context = sum(1 for line in hunk.lines if line.op == " ")
    return 0 if context == 0 else max(1, context // CONTEXT_LINES_PER_MISMATCH)


def fuzzy_hits(hunk: Hunk, view: FileView, tally: Counter[int]) -> list[FuzzyHit]:
    """Every start where the hunk fits within the tolerance, best first."""
    ops, keys = _ops_and_keys(hunk)
    allowed = allowed_mismatches(hunk)
    if allowed == 0:
        return []
    needed = sum(1 for key in keys if key) - allowed
    hits = []
    for start, count in tally.items():
        if count >= needed and start + len(keys) <= len(view):
            hit = _evaluate(start, ops, keys, view.keys("collapse"), allowed)
            if hit is not None:
                hits.append(hit)
    return sorted(hits, key=lambda h: (len(h.mismatches), -h.similarity, h.start))


def _evaluate(start: int, ops: list[str], keys: list[str], file_keys: list[str], allowed: int) -> FuzzyHit | None:
    mismatches: list[int] = []
    agreeing = 0
    for k, (op, key) in enumerate(zip(ops, keys)):
        actual = file_keys[start + k]
        if actual == key:
            agreeing += 1 if key else 0
            continue
        if op == "-" or line_similarity(key, actual) < MIN_LINE_SIMILARITY:
            return None
        mismatches.append(k)
    if len(mismatches) > allowed or agreeing < max(MIN_AGREEING_LINES, AGREEING_PER_MISMATCH * len(mismatches)):
        return None
    region = file_keys[start:start + len(keys)]
    return FuzzyHit(start, mismatches, block_similarity(keys, region))


def stale_hits(hunk: Hunk, view: FileView, tally: Counter[int]) -> list[FuzzyHit]:
    """Starts where a long hunk fits although up to a third of its context lines changed since
    the model read the file: only when every removed line is there exactly (whitespace aside)
    and each changed line still resembles the file's."""
    ops, keys = _ops_and_keys(hunk)
    if not any(key for op, key in zip(ops, keys) if op == "-"):
        return []
    context = sum(1 for op, key in zip(ops, keys) if op == " " and key)
    allowed = min(STALE_MAX_LINES, context // STALE_CONTEXT_PER_LINE)
    if allowed <= allowed_mismatches(hunk):
        return []
    needed = sum(1 for key in keys if key) - allowed
    file_keys = view.keys("collapse")
    hits = []
    for start, count in tally.items():
        if count < needed or start + len(keys) > len(view):
            continue
        differing = [k for k, key in enumerate(keys) if file_keys[start + k] != key]
        if any(ops[k] == "-" for k in differing) or len(differing) > allowed:
            continue
        if any(line_similarity(keys[k], file_keys[start + k]) < MIN_LINE_SIMILARITY for k in differing):
            continue  # a changed line still resembles its older self; an invented one does not
        if context - len(differing) >= max(MIN_AGREEING_LINES, STALE_AGREEING_PER_LINE * len(differing)):
            hits.append(FuzzyHit(start, differing, block_similarity(keys, file_keys[start:start + len(keys)])))
    return sorted(hits, key=lambda h: h.start)


def line_similarity(a: str, b: str) -> float:
    """How alike two lines are, 0 to 1."""
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def block_similarity(a: list[str], b: list[str]) -> float:
    """How alike two blocks of lines are, 0 to 1: the mean similarity of lines side by side
    (per line, so long lines cost linear time rather than one quadratic comparison)."""
    if not a and not b:
        return 1.0
    pairs = list(zip(a, b))
    return sum(line_similarity(x, y) for x, y in pairs) / max(len(a), len(b))


def closest_region(hunk: Hunk, view: FileView, tally: Counter[int], near: int | None) -> Region | None:
    """The region sharing the most lines with the hunk (nearest the stated line on ties)."""
    if not tally:
        return None
    best = max(tally, key=lambda s: (tally[s], -abs(s - near) if near is not None else -s))
    ops, keys = _ops_and_keys(hunk)
    end = min(len(view), best + len(keys))
    region = view.keys("collapse")[best:end]
    return Region(best, end - best, block_similarity(keys, region), _differences(hunk, view, best))


def _differences(hunk: Hunk, view: FileView, start: int, limit: int = 6) -> list[str]:
    """Up to `limit` lines saying where the hunk and the file differ."""
    old = [line for line in hunk.lines if line.op != "+"]
    out: list[str] = []
    for k, line in enumerate(old):
        pos = start + k
        actual = view.lines[pos] if pos < len(view) else None
        if actual is not None and normalise("collapse", actual) == normalise("collapse", line.text):
            continue
        kind = "removed line" if line.op == "-" else "context line"
        has = "(past the end of the file)" if actual is None else repr(actual)
        out.append(f"line {pos + 1}: the patch's {kind} {line.text!r}; the file has {has}")
        if len(out) == limit:
            break
    return out
