"""Hunks that leave lines out: elided stretches (`...`, `// ... existing code ...`) and blank lines
at a hunk's ends that the file does not have there.

An elision line among a hunk's context lines stands for unchanged lines the model skipped. The
pieces around it are matched in order within one region; the skipped lines must sit inside the
block the elision line's indentation implies, and the hunk is placed only when exactly one such
region exists. The lines it stood for are kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.patch.fileview import LEVELS, FileView, Level, normalise
from tools.patch.indent import indent_of
from tools.patch.model import Hunk, HunkLine

# A comment that says code was left out: `# ... existing code ...`, `// ... rest unchanged ...`,
# `/* ... */`, `<!-- ... -->`; or a line of only `...` (Python's Ellipsis too, so those are
# tried only after the hunk failed to match as written).
_COMMENT = re.compile(r"^(?:#+|//+|/\*+|\*|<!--|--|;+)?\s*(?:\.\.\.|…)\s*(?P<words>[\w\s,'()/.-]*?)\s*"
                      r"(?:\.\.\.|…)?\s*(?:\*+/|-->)?$")
_SAYS_ELIDED = re.compile(r"\b(existing|unchanged|rest|remaining|omitted|same|other|previous|more|code|"
                          r"as before|etc)\b", re.IGNORECASE)
MAX_PLACES = 200  # occurrences of one piece worth trying
MAX_CHAINS = 1000  # partial placements worth following; beyond that the hunk is ambiguous


def is_marker(text: str) -> bool:
    """True when a line only says that code was left out."""
    match = _COMMENT.match(text.strip())
    return match is not None and (not match.group("words") or _SAYS_ELIDED.search(match.group("words")) is not None)


def says_elided(text: str) -> bool:
    """True for an elision comment with words (`// ... existing code ...`): never code itself."""
    match = _COMMENT.match(text.strip())
    return match is not None and bool(match.group("words")) and _SAYS_ELIDED.search(match.group("words")) is not None


def has_elision(hunk: Hunk) -> bool:
    """True when a context line of the hunk is an elision."""
    return any(line.op == " " and is_marker(line.text) for line in hunk.lines)


def unpaired_marker(hunk: Hunk) -> str | None:
    """An elision comment among the hunk's added lines (it would be written into the file as a
    comment where the model meant code), if any. Removed ones matched the file, so they are real."""
    return next((line.text for line in hunk.lines if line.op == "+" and says_elided(line.text)), None)


def trim_blank_ends(hunk: Hunk) -> Hunk | None:
    """The hunk without blank context or removed lines at its ends; None when it has none, or
    when nothing would be left to find."""
    lines = list(hunk.lines)
    while lines and lines[0].op != "+" and not lines[0].text.strip():
        lines.pop(0)
    while lines and lines[-1].op != "+" and not lines[-1].text.strip():
        lines.pop()
    if len(lines) == len(hunk.lines) or not any(line.op != "+" and line.text.strip() for line in lines):
        return None
    return _copy(hunk, lines)


def _copy(hunk: Hunk, lines: list[HunkLine]) -> Hunk:
    return Hunk(lines, hunk.old_start, hunk.header, hunk.anchor, hunk.at_end, hunk.no_newline_at_end,
                hunk.old_no_newline)


@dataclass
class ElidedFit:
    """The one region an elided hunk fits: the hunk with its elisions filled from the file."""

    start: int
    hunk: Hunk
    filled: list[int]  # offsets of the old lines taken from the file, not from the patch


@dataclass
class _Gap:
    """What an elision line says about the lines it stands for: how deep they must be indented
    compared with the file lines just above and below them."""

    above: int  # -1: shallower allowed, 0: at least as deep, 1: deeper
    below: int


def _pieces(hunk: Hunk) -> tuple[list[list[HunkLine]], list[_Gap]]:
    """The hunk's lines split at its elision lines (those at either end dropped), and per gap
    the indentation rule its elision line implies."""
    pieces: list[list[HunkLine]] = [[]]
    markers: list[str] = []
    for line in hunk.lines:
        if line.op == " " and is_marker(line.text):
            if pieces[-1]:
                pieces.append([])
                markers.append(line.text)
            continue
        pieces[-1].append(line)
    if not pieces[-1]:
        pieces.pop()
        markers = markers[:len(pieces) - 1]
    gaps = [_gap(marker, _old(before)[-1:], _old(after)[:1]) for marker, before, after
            in zip(markers, pieces, pieces[1:])]
    return pieces, gaps


def _old(piece: list[HunkLine]) -> list[str]:
    return [line.text for line in piece if line.op != "+"]


def _depth(line: str) -> int:
    return len(indent_of(line).expandtabs(8))


def _gap(marker: str, above: list[str], below: list[str]) -> _Gap:
    def compare(other: list[str]) -> int:
        if not other:
            return -1
        diff = _depth(marker) - _depth(other[0])
        return 1 if diff > 0 else (0 if diff == 0 else -1)
    return _Gap(compare(above), compare(below))


def fit_elided(hunk: Hunk, view: FileView) -> ElidedFit | list[int] | None:
    """The one region where the pieces around the hunk's elisions fit in order (the strictest
    whitespace level that finds one decides), every region when there are several, None when none."""
    pieces, gaps = _pieces(hunk)
    if len(pieces) < 2 or any(not _old(piece) for piece in pieces):
        return None
    for level in LEVELS:
        chains = _chains(pieces, gaps, view, level)
        if len(chains) > 1:
            return sorted({chain[0] for chain in chains})
        if chains:
            return _fill(hunk, pieces, chains[0], view)
    return None


def _chains(pieces: list[list[HunkLine]], gaps: list[_Gap], view: FileView, level: Level) -> list[list[int]]:
    """The placements of every piece, in order, with each gap's lines inside its block."""
    places = [view.occurrences(level, [normalise(level, t) for t in _old(piece)])[:MAX_PLACES] for piece in pieces]
    chains: list[list[int]] = [[start] for start in places[0]]
    for k in range(1, len(pieces)):
        width = len(_old(pieces[k - 1]))
        chains = [chain + [start] for chain in chains for start in places[k]
                  if start >= chain[-1] + width and _gap_fits(view, chain[-1] + width, start, gaps[k - 1])]
        if len(chains) > MAX_CHAINS:
            break
    return chains


def _gap_fits(view: FileView, begin: int, end: int, gap: _Gap) -> bool:
    """True when every non-blank line in [begin, end) is as deep as the elision line demands."""
    above = _depth(view.lines[begin - 1]) if begin > 0 else 0
    below = _depth(view.lines[end]) if end < len(view) else 0
    for line in view.lines[begin:end]:
        if not line.strip():
            continue
        depth = _depth(line)
        if (gap.above == 1 and depth <= above) or (gap.above == 0 and depth < above):
            return False
        if (gap.below == 1 and depth <= below) or (gap.below == 0 and depth < below):
            return False
    return True


def _fill(hunk: Hunk, pieces: list[list[HunkLine]], chain: list[int], view: FileView) -> ElidedFit:
    """The hunk with each elision replaced by the file lines it stood for, as context."""
    lines: list[HunkLine] = []
    filled: list[int] = []
    old_count = 0
    for k, piece in enumerate(pieces):
        lines.extend(piece)
        old_count += len(_old(piece))
        if k + 1 < len(pieces):
            gap = view.lines[chain[k] + len(_old(piece)):chain[k + 1]]
            filled.extend(range(old_count, old_count + len(gap)))
            lines.extend(HunkLine(" ", text) for text in gap)
            old_count += len(gap)
    return ElidedFit(chain[0], _copy(hunk, lines), filled)
