"""The records every patch format parses into: pure data, no file access."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Op = Literal[" ", "-", "+"]
EditKind = Literal["update", "create", "delete"]
FormatName = Literal["unified", "search-replace", "v4a"]


class PatchParseError(ValueError):
    """The text is not a patch this engine can read; the message says what to fix."""


@dataclass(frozen=True)
class HunkLine:
    """One line of a hunk: context (' '), removed ('-') or added ('+'), without its line ending."""

    op: Op
    text: str


@dataclass
class Hunk:
    """A contiguous change: the old lines (context and removed) to find, and what replaces them."""

    lines: list[HunkLine]
    old_start: int | None = None  # 1-based line the patch claims; None when it gave no number
    header: str = ""  # as the patch wrote it, for messages
    anchor: str | None = None  # a line expected somewhere above the hunk (V4A `@@ def f():`)
    at_end: bool = False  # the hunk must end at the end of the file (V4A `*** End of File`)
    no_newline_at_end: bool = False  # the new side carries `\ No newline at end of file`
    old_no_newline: bool = False  # the old side carries it: its last line ends the file

    @property
    def old(self) -> list[str]:
        """The lines the hunk expects to find in the file, in order."""
        return [line.text for line in self.lines if line.op != "+"]

    @property
    def new(self) -> list[str]:
        """The lines the hunk leaves in their place."""
        return [line.text for line in self.lines if line.op != "-"]


@dataclass
class BinaryChange:
    """A git binary change: the decoded forward data, or None when the diff carries no content."""

    kind: Literal["literal", "delta"] | None
    size: int = 0  # the inflated size git declared
    data: bytes = b""  # inflated: the whole new file (literal) or a git delta (delta)
    old_hash: str | None = None  # from the `index` line, when given
    new_hash: str | None = None


@dataclass
class FileEdit:
    """What a patch does to one path: update its hunks, create it, or delete it; maybe move it."""

    kind: EditKind
    path: str
    hunks: list[Hunk] = field(default_factory=list)
    move_to: str | None = None
    # Hunks of one edit are all located in the file as it was before the edit; separate edits of
    # one path (search/replace blocks) apply one after another.
    executable: bool | None = None  # from a git `new file mode` header, when given
    binary: BinaryChange | None = None  # a git binary patch (or a bare "Binary files differ")


@dataclass
class ParsedPatch:
    """A whole patch: its format and its file edits in the order written."""

    format: FormatName
    edits: list[FileEdit]


def no_newline_sides(before: Op | None) -> tuple[bool, bool]:
    """Which sides (old, new) a `\\ No newline at end of file` line marks, given the op of the
    hunk line just above it: a removed line is the old side's last, an added line the new side's,
    a context line both."""
    return before in ("-", " "), before in ("+", " ")
