"""A text file as lines plus everything needed to write it back the way it was: line endings
(per line), encoding and byte-order mark, final newline, and permission bits."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

_LINE = re.compile(r"([^\n]*?)(\r\n|\n|$)")


class NotText(ValueError):
    """The file is binary or in an encoding the engine will not guess."""


@dataclass
class TextFile:
    """Decoded lines without endings, with their endings kept alongside."""

    lines: list[str]
    endings: list[str]
    encoding: str = "utf-8"
    bom: bytes = b""
    final_newline: bool = True
    mode: int | None = None
    newline: str = field(default="\n")

    @classmethod
    def new(cls, lines: list[str], *, final_newline: bool = True) -> TextFile:
        """A file to be created: UTF-8, LF endings."""
        return cls(lines, ["\n"] * len(lines), final_newline=final_newline)

    def render(self) -> bytes:
        """The bytes to write: every line with its ending, the final one as the file had it."""
        parts: list[str] = []
        last = len(self.lines) - 1
        for i, (line, ending) in enumerate(zip(self.lines, self.endings)):
            ending = ending or self.newline
            if i == last and not self.final_newline:
                ending = ""
            parts.append(line + ending)
        text = "".join(parts)
        return self.bom + text.encode(self.encoding)


@dataclass
class Blob:
    """A file kept as bytes: a binary file, changed only by a git binary patch, written as is."""

    data: bytes
    mode: int | None = None
    reason: str = "it is a binary file"  # why it is not text, for a refusal

    def render(self) -> bytes:
        """The bytes to write."""
        return self.data


def decode(data: bytes, mode: int | None = None) -> TextFile:
    """Split file bytes into a TextFile; NotText for binary data."""
    encoding, bom = _encoding_of(data)
    text = data[len(bom):].decode(encoding)
    if "\x00" in text:
        raise NotText("it is a binary file")
    lines, endings = [], []
    for match in _LINE.finditer(text):
        if match.start() == len(text):
            break
        lines.append(match.group(1))
        endings.append(match.group(2))
    crlf = sum(1 for e in endings if e == "\r\n")
    newline = "\r\n" if crlf > len(endings) - crlf - (1 if endings and not endings[-1] else 0) else "\n"
    final = not lines or endings[-1] != ""
    return TextFile(lines, endings, encoding, bom, final, mode, newline)


def _encoding_of(data: bytes) -> tuple[str, bytes]:
    """The encoding and byte-order mark of file bytes: BOM-marked UTF-8/16, UTF-8, else Latin-1."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return name, bom
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if b"\x00" in data:
            raise NotText("it is a binary file") from None
        return "latin-1", b""
    return "utf-8", b""
