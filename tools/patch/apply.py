"""Write a planned patch to disk, all files or none.

Every new content is first written to a temporary file in its target's directory; only when all
of them exist are they moved into place with `os.replace` (atomic per file). If a move or delete
fails midway, the files already changed are put back from the bytes kept in memory.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from tools.patch.tree import Entry


class CommitError(OSError):
    """Writing failed; every file was restored to what it was."""


@dataclass
class _Staged:
    entry: Entry
    temp: Path | None  # None: the entry is deleted


def commit(entries: list[Entry]) -> None:
    """Make every entry's planned state real, or leave every file as it was (CommitError)."""
    made_dirs: list[Path] = []
    staged: list[_Staged] = []
    try:
        for entry in entries:
            staged.append(_stage(entry, made_dirs))
    except OSError as exc:
        _discard(staged, made_dirs)
        raise CommitError(f"could not write {entry.rel}: {exc.strerror or exc}") from exc
    done: list[_Staged] = []
    try:
        for item in staged:
            _swap(item)
            done.append(item)
    except OSError as exc:
        _restore(done)
        _discard([s for s in staged if s not in done], made_dirs)
        raise CommitError(f"could not write {item.entry.rel}: {exc.strerror or exc}") from exc


def _stage(entry: Entry, made_dirs: list[Path]) -> _Staged:
    """Write the entry's new bytes next to its target, with the target's permission bits."""
    if entry.file is None:
        return _Staged(entry, None)
    parent = entry.target.parent
    missing = [p for p in [parent, *parent.parents] if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir()
        made_dirs.append(directory)
    temp = parent / f".{entry.target.name}.{secrets.token_hex(4)}.patch-tmp"
    mode = entry.file.mode if entry.file.mode is not None else entry.original_mode
    # New files get 0o666/0o777 less the umask, as any other tool would create them.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if mode and mode & 0o111 else 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(entry.file.render())
        if mode is not None:
            os.chmod(temp, mode)
    except OSError:
        temp.unlink(missing_ok=True)
        raise
    return _Staged(entry, temp)


def _swap(item: _Staged) -> None:
    if item.temp is None:
        item.entry.target.unlink()
    else:
        os.replace(item.temp, item.entry.target)


def _restore(done: list[_Staged]) -> None:
    """Put back what the swapped entries held before (best effort: this already is the error path)."""
    for item in reversed(done):
        entry = item.entry
        if entry.original is None:
            entry.target.unlink(missing_ok=True)
            continue
        temp = entry.target.parent / f".{entry.target.name}.{secrets.token_hex(4)}.patch-restore"
        temp.write_bytes(entry.original)
        if entry.original_mode is not None:
            os.chmod(temp, entry.original_mode)
        os.replace(temp, entry.target)


def _discard(staged: list[_Staged], made_dirs: list[Path]) -> None:
    for item in staged:
        if item.temp is not None:
            item.temp.unlink(missing_ok=True)
    for directory in reversed(made_dirs):
        try:
            directory.rmdir()
        except OSError:
            pass  # not empty: something else put a file there meanwhile
