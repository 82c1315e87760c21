"""Added lines take the file's own indentation: tabs or its indent width, never the patch's.

Models often write a tab-indented file's indentation as spaces, or a 2-space file with 4 spaces.
The matching ladder still finds such a hunk (whitespace-normalised); this module then decides how
to re-indent the hunk's added lines, from evidence first: the indentation of each matched patch
line beside the file line it matched. Where the match was exact there is no such evidence, and
only a language rule re-indents: Go is indented with tabs (gofmt), a Makefile recipe must start
with a tab.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

Language = Literal["go", "make", "other"]

_MAKE_DIRECTIVE = re.compile(r"^\s*(ifeq|ifneq|ifdef|ifndef|else|endif|include|-include|define|endef|export|"
                             r"override|unexport|vpath)\b")
_MAKE_RULE = re.compile(r"^[^\s#=:][^=]*?::?(?!=)(\s|$)")
_WIDTHS = (4, 2, 8, 3)


def language_of(path: str) -> Language:
    """The indentation rules a path's file type imposes."""
    name = PurePosixPath(path).name
    if name.endswith(".go"):
        return "go"
    if name in ("Makefile", "makefile", "GNUmakefile") or name.endswith(".mk"):
        return "make"
    return "other"


def indent_of(line: str) -> str:
    """The leading blanks of `line`."""
    return line[:len(line) - len(line.lstrip(" \t"))]


def file_unit(lines: list[str]) -> str | None:
    """One indentation level of the file: a tab, or N spaces; None when nothing is indented."""
    indents = [indent_of(line) for line in lines if line.strip() and indent_of(line)]
    if not indents:
        return None
    tabs = sum(1 for ind in indents if ind.startswith("\t"))
    if tabs * 2 > len(indents):
        return "\t"
    widths = [len(ind) for ind in indents if not ind.startswith("\t")]
    return " " * _common_width(widths, default=4)


def _common_width(widths: list[int], default: int) -> int:
    """The widest usual indent step that (nearly) every width is a multiple of."""
    widths = [w for w in widths if w > 0]
    if not widths:
        return default
    for step in sorted(_WIDTHS, reverse=True):
        if sum(1 for w in widths if w % step == 0) >= 0.9 * len(widths) and min(widths) <= step * 2:
            return step
    return max(1, math.gcd(*widths)) if math.gcd(*widths) <= 8 else default


def _levels(indent: str, width: float) -> tuple[int, str]:
    """An indentation as (levels, remainder): leading tabs are levels and what follows them is
    alignment; a run of spaces alone is `width` spaces a level."""
    tabs = len(indent) - len(indent.lstrip("\t"))
    if tabs:
        return tabs, indent[tabs:]
    if math.isinf(width):
        return 0, indent
    return int(len(indent) // width), " " * int(len(indent) % width)


@dataclass(frozen=True)
class Reindent:
    """Maps the patch's indentation to the file's: `patch_width` spaces (or one tab) a level in
    the patch, `unit` a level in the file, and `offset` levels the whole hunk moved."""

    patch_width: int
    unit: str
    offset: int = 0

    def apply(self, line: str) -> str:
        """`line` with its indentation written the file's way."""
        if not line.strip():
            return line
        indent = indent_of(line)
        levels, rest = _levels(indent, self.patch_width)
        return self.unit * max(0, levels + self.offset) + rest + line[len(indent):]


@dataclass(frozen=True)
class Shift:
    """A uniform change of leading prefix (the whole hunk dedented by two spaces, say)."""

    old_prefix: str
    new_prefix: str

    def apply(self, line: str) -> str:
        """`line` with its indentation moved like the hunk's matched lines."""
        if line.strip() and line.startswith(self.old_prefix):
            return self.new_prefix + line[len(self.old_prefix):]
        return line


Rule = Reindent | Shift


def from_evidence(pairs: list[tuple[str, str]], unit: str | None) -> Rule | None:
    """How the patch's indentation maps to the file's, from (patch, file) indentations of matched
    lines; None when they agree everywhere or no consistent mapping explains them."""
    pairs = [(p, f) for p, f in pairs if p != f or p]
    if not pairs or all(p == f for p, f in pairs):
        return None
    shift = _uniform_shift(pairs)
    if shift is not None:
        return shift
    file_unit_ = unit or _unit_from_pairs(pairs)
    if file_unit_ is None:
        return None
    file_width = math.inf if file_unit_ == "\t" else len(file_unit_)
    hint = _common_width([len(p) for p, _ in pairs if p and "\t" not in p], default=4)
    for width in dict.fromkeys((hint, *_WIDTHS, 1)):
        offset = _offset(pairs, width, file_width)
        if offset is not None:
            return Reindent(width, file_unit_, offset)
    return None


def _unit_from_pairs(pairs: list[tuple[str, str]]) -> str | None:
    files = [f for _, f in pairs if f]
    return file_unit([f + "x" for f in files]) if files else None


def _offset(pairs: list[tuple[str, str]], width: int, file_width: float) -> int | None:
    """The one level offset that maps every patch indent to its file indent at `width`, if any."""
    offsets = set()
    for patch, file in pairs:
        lp, rp = _levels(patch, width)
        lf, rf = _levels(file, file_width)
        if rp != rf:
            return None
        offsets.add(lf - lp)
    return offsets.pop() if len(offsets) == 1 else None


def _uniform_shift(pairs: list[tuple[str, str]]) -> Shift | None:
    """The common prefix change when every pair moved alike, without turning spaces into tabs
    or back (that takes levels, not a prefix)."""
    shifts = set()
    for patch, file in pairs:
        common = 0
        while common < min(len(patch), len(file)) and patch[-1 - common] == file[-1 - common]:
            common += 1
        shifts.add((patch[:len(patch) - common], file[:len(file) - common]))
    if len(shifts) != 1:
        return None
    old, new = shifts.pop()
    if old == new or set(old + new) == {" ", "\t"}:
        return None
    return Shift(old, new)


def by_language(language: Language, added: list[str], unit: str | None) -> Reindent | None:
    """The language's own rule for space-indented added lines: Go uses tabs (a Makefile's rule
    covers recipe lines only: see `recipe_lines`)."""
    if language != "go" or unit not in ("\t", None):
        return None
    widths = [len(indent_of(line)) for line in added
              if line.strip() and indent_of(line).startswith(" ") and not _comment_star(line)]
    if not widths:
        return None
    return Reindent(_common_width(widths, default=4), "\t")


def recipe_lines(before: list[str], new: list[str]) -> list[bool]:
    """For each line of `new` (placed after the file's lines `before`), True when it sits in a
    Makefile rule's recipe, where it must start with a tab."""
    in_rule = False
    for line in reversed(before):
        if line.startswith("\t") or not line.strip() or line.lstrip().startswith("#"):
            continue
        in_rule = bool(_MAKE_RULE.match(line)) and not _MAKE_DIRECTIVE.match(line)
        break
    flags = []
    for line in new:
        if line.startswith((" ", "\t")) and line.strip() and not _MAKE_DIRECTIVE.match(line):
            flags.append(in_rule)
            continue
        flags.append(False)
        if line.strip() and not line.startswith("#"):
            in_rule = bool(_MAKE_RULE.match(line)) and not _MAKE_DIRECTIVE.match(line)
    return flags


@dataclass
class Placement:
    """A hunk placed in a file: what the re-indenting of its added lines is decided from."""

    language: Language
    file_lines: list[str]  # the whole file as it was
    start: int  # where the hunk's old lines begin in it
    pairs: list[tuple[str, str]]  # (patch, file) indentation of matched non-blank lines
    exact: bool  # matched character for character: the patch's indentation is the file's


def reindent_added(place: Placement, new: list[str], added: list[bool]) -> list[str]:
    """`new` (a hunk's new side) with each added line indented the file's way."""
    unit = file_unit(place.file_lines)
    added_text = [line for line, flag in zip(new, added) if flag]
    rule = None if place.exact else from_evidence(place.pairs, unit)
    rule = rule or by_language(place.language, added_text, unit)
    if place.language == "make":
        recipe = recipe_lines(place.file_lines[:place.start], new)
        return [_recipe(line, rule) if flag and is_recipe else (rule.apply(line) if flag and rule else line)
                for line, flag, is_recipe in zip(new, added, recipe)]
    if rule is None:
        return new
    if place.language == "go":  # a raw string's lines are data, a block comment's ` * ` is no indent
        added = [flag and not raw and not _comment_star(line)
                 for flag, raw, line in zip(added, go_raw_lines(place.file_lines[:place.start], new), new)]
    return [rule.apply(line) if flag else line for line, flag in zip(new, added)]


def _comment_star(line: str) -> bool:
    """True for a block comment's continuation line (` * text`, ` */`)."""
    return line.startswith(" ") and line.lstrip().startswith("*")


def go_raw_lines(before: list[str], new: list[str]) -> list[bool]:
    """For each line of `new` (placed after `before`), True when it starts inside a Go raw
    string literal (an odd number of backquotes above it, comment lines aside)."""
    def ticks(line: str) -> int:
        return 0 if line.lstrip().startswith("//") else line.count("`")
    inside = sum(ticks(line) for line in before) % 2 == 1
    flags = []
    for line in new:
        flags.append(inside)
        inside = inside != (ticks(line) % 2 == 1)
    return flags


def _recipe(line: str, rule: Rule | None) -> str:
    """A Makefile recipe line, which must start with a tab whatever the patch wrote."""
    line = rule.apply(line) if rule else line
    return line if line.startswith("\t") else "\t" + line.lstrip(" ")
