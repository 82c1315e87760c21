"""The repository as the patch sees it while being planned: files read on demand, every change
kept in memory until the whole patch is known to apply."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tools.paths import DEFAULT_SECRET_GLOBS, PathRefused, confine
from tools.patch.textfile import Blob, TextFile, decode


class EditRefused(ValueError):
    """One file of the patch cannot be applied; the message is written for the model."""


@dataclass
class Entry:
    """One path: its bytes on disk before the patch, and its planned state (None: absent)."""

    rel: str
    target: Path
    original: bytes | None
    original_mode: int | None
    file: TextFile | Blob | None

    @property
    def changed(self) -> bool:
        """True when the planned state differs from the disk."""
        if self.file is None:
            return self.original is not None
        return self.original is None or self.file.render() != self.original


class VirtualTree:
    """Planned file states over a real directory, keyed by normalised relative path."""

    def __init__(self, root: Path, secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS,
                 user_files: tuple[str, ...] = ()) -> None:
        self.root = root
        self.secret_globs = secret_globs
        self.user_files = user_files  # a run in place: the user's untracked files, never written
        self.entries: dict[str, Entry] = {}

    def entry(self, rel: str) -> Entry:
        """The entry for `rel`, reading it from disk the first time; EditRefused if confinement
        or decoding refuses it."""
        key = _normal(rel)
        if key not in self.entries:
            try:
                target = confine(self.root, key, secret_globs=self.secret_globs, writing=True,
                                 user_files=self.user_files)
            except PathRefused as exc:
                raise EditRefused(str(exc)) from None
            self.entries[key] = _load(key, target)
        return self.entries[key]

    def exists(self, rel: str) -> bool:
        """True when `rel` is a file in the planned state."""
        try:
            return self.entry(rel).file is not None
        except EditRefused:
            return False

    def finds(self, raw: str) -> bool:
        """True when `raw`, or `raw` without git's `a/`/`b/` prefix, is a file."""
        return any(self.exists(candidate) for candidate in _candidates(raw))

    def existing(self, raw: str) -> str:
        """The path a patch means by `raw` for a file that must exist (git's `a/`/`b/` tried)."""
        for candidate in _candidates(raw):
            if self.exists(candidate):
                return _normal(candidate)
        self.entry(raw)  # surfaces a confinement refusal before "not found"
        raise EditRefused(f"{raw}: no such file in the repository{self._hint(raw)}")

    def fresh(self, raw: str) -> str:
        """The path a patch means by `raw` for a file it creates."""
        candidates = _candidates(raw)
        if len(candidates) > 1 and not (self.root / raw.split("/", 1)[0]).is_dir():
            return _normal(candidates[1])
        return _normal(candidates[0])

    def changed(self) -> list[Entry]:
        """Every entry whose planned state differs from the disk, in a stable order."""
        return [e for e in self.entries.values() if e.changed]

    def _hint(self, raw: str) -> str:
        name = PurePosixPath(raw).name
        found: list[str] = []
        seen = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            if name in filenames:
                found.append(Path(dirpath, name).relative_to(self.root).as_posix())
            seen += len(filenames)
            if len(found) >= 3 or seen > 20_000:  # a hint is not worth a long walk
                break
        return f" (files with that name: {', '.join(found)})" if found else ""


def _normal(rel: str) -> str:
    path = rel.replace("\\", "/").strip()
    while path.startswith("./"):
        path = path[2:]
    return path


def _candidates(raw: str) -> list[str]:
    path = _normal(raw)
    return [path, path[2:]] if path.startswith(("a/", "b/")) and len(path) > 2 else [path]


def _load(rel: str, target: Path) -> Entry:
    if target.is_dir():
        raise EditRefused(f"{rel}: is a directory, not a file")
    if not target.exists():
        return Entry(rel, target, None, None, None)
    data = target.read_bytes()
    mode = stat.S_IMODE(target.stat().st_mode)
    file: TextFile | Blob
    try:
        file = decode(data, mode)
    except (ValueError, UnicodeDecodeError) as exc:
        file = Blob(data, mode, str(exc))  # only a git binary patch may change it
    return Entry(rel, target, data, mode, file)
