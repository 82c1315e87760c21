"""A file's lines seen at three strictness levels, with an index of where each line occurs."""

from __future__ import annotations

from typing import Literal

Level = Literal["exact", "rstrip", "collapse"]
LEVELS: tuple[Level, ...] = ("exact", "rstrip", "collapse")


def normalise(level: Level, line: str) -> str:
    """`line` as compared at `level`: as is, without trailing blanks, or with all runs of
    whitespace collapsed and the indentation dropped."""
    if level == "exact":
        return line
    if level == "rstrip":
        return line.rstrip()
    return " ".join(line.split())


class FileView:
    """The lines of one file with per-level keys and occurrence indexes, built on first use."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._keys: dict[Level, list[str]] = {}
        self._index: dict[Level, dict[str, list[int]]] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def keys(self, level: Level) -> list[str]:
        """Every line normalised at `level`."""
        if level not in self._keys:
            self._keys[level] = [normalise(level, line) for line in self.lines]
        return self._keys[level]

    def index(self, level: Level) -> dict[str, list[int]]:
        """For each normalised line, the 0-based positions where it occurs."""
        if level not in self._index:
            index: dict[str, list[int]] = {}
            for pos, key in enumerate(self.keys(level)):
                index.setdefault(key, []).append(pos)
            self._index[level] = index
        return self._index[level]

    def occurrences(self, level: Level, block: list[str]) -> list[int]:
        """Every 0-based start where the already-normalised `block` occurs at `level`."""
        keys, index = self.keys(level), self.index(level)
        if not block:
            return []
        rarest = min(range(len(block)), key=lambda k: len(index.get(block[k], ())))
        found: list[int] = []
        for pos in index.get(block[rarest], ()):
            start = pos - rarest
            if start >= 0 and keys[start:start + len(block)] == block:
                found.append(start)
        return found
