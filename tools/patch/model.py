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
    no_newline_at_end: bool = False  # the new text ends without a final newline

    @property
    def old(self) -> list[str]:
        """The lines the hunk expects to find in the file, in order."""
        return [line.text for line in self.lines if line.op != "+"]

    @property
    def new(self) -> list[str]:
        """The lines the hunk leaves in their place."""
        return [line.text for line in self.lines if line.op != "-"]


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


@dataclass
class ParsedPatch:
    """A whole patch: its format and its file edits in the order written."""

    format: FormatName
    edits: list[FileEdit]
