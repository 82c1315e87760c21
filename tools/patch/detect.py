"""Which format a patch is written in, and the parser registered for each format name."""

from __future__ import annotations

from collections.abc import Callable

from tools.patch import search_replace, unified, v4a
from tools.patch.model import FileEdit, FormatName, ParsedPatch, PatchParseError

Parser = Callable[[str], list[FileEdit]]

PARSERS: dict[FormatName, Parser] = {
    "v4a": v4a.parse,
    "search-replace": search_replace.parse,
    "unified": unified.parse,
}


def normalise_text(text: str) -> str:
    """The patch with a leading BOM dropped and CRLF line endings made LF."""
    return text.lstrip("\ufeff").replace("\r\n", "\n")


def detect_format(text: str) -> FormatName:
    """The format `text` is written in; PatchParseError when it holds no recognisable patch."""
    lines = text.split("\n")
    if any(line.strip() == "*** Begin Patch" or v4a.is_file_header(line) for line in lines):
        return "v4a"
    if any(search_replace.is_search_marker(line) for line in lines):
        return "search-replace"
    for i, line in enumerate(lines):
        if line.startswith(("@@", "diff --git ")):
            return "unified"
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            return "unified"
    raise PatchParseError(
        "no patch found: send a unified diff (---/+++ headers and @@ hunks), search/replace blocks "
        "(a path line, then <<<<<<< SEARCH, =======, >>>>>>> REPLACE), or a *** Begin Patch block"
    )


def parse_patch(text: str) -> ParsedPatch:
    """Parse any supported format into file edits; PatchParseError explains what is unreadable."""
    clean = normalise_text(text)
    if not clean.strip():
        raise PatchParseError("the patch is empty")
    name = detect_format(clean)
    edits = PARSERS[name](clean)
    if not edits:
        raise PatchParseError(f"the {name} patch names no file to change")
    return ParsedPatch(format=name, edits=edits)
