"""The run journal: `.agent/runs/<id>/events.jsonl`, one JSON event a line, written as things happen.

Every event is flushed and fsynced before `append` returns, so a crash loses at most the event
being written. What such a crash leaves, a torn last line, is closed with a newline before the
next event is appended (so it cannot swallow that event), and readers skip it and say so on
stderr. Secrets are redacted before writing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from agent.runlock import RunLock

Event = dict[str, Any]
Listener = Callable[[Event], None]

log = logging.getLogger("agent.journal")
# Torn lines already named on stderr, by journal and line: a command reads a journal several times
# (resume, replay, report), and says so once.
_named_torn: set[tuple[str, int]] = set()


def runs_dir(repo_root: Path) -> Path:
    return repo_root / ".agent" / "runs"


def run_dir(repo_root: Path, run_id: str) -> Path:
    return runs_dir(repo_root) / run_id


class Journal:
    """Append-only event log of one run; listeners (the terminal view) see each event as written.

    Whoever holds a run's journal open owns the run (`RunLock`): opening it while another process
    has it open is a RunBusy error, and closing it gives the run up.
    """

    def __init__(self, path: Path, redact: Callable[[Any], Any] | None = None, owner: RunLock | None = None):
        self.path = path
        self._redact = redact or (lambda obj: obj)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._owner = owner or RunLock.acquire(path.parent)  # `owner`: the run's lock, already taken
        try:
            self._file = path.open("a", encoding="utf-8")
        except BaseException:
            self._owner.release()
            raise
        if _ends_torn(path):
            self._file.write("\n")  # ends the fragment; the next event starts a line of its own

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def append(self, type_: str, **fields: Any) -> Event:
        event: Event = {"type": type_, "ts": round(time.time(), 3), **fields}
        line = json.dumps(self._redact(event), ensure_ascii=False, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        for listener in self._listeners:
            listener(event)
        return event

    def moved(self, path: Path) -> None:
        """The run folder was renamed (a run's start): the open file and the lock go with it."""
        self.path = path

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()
            self._owner.release()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> Iterator[Event]:
    """Every complete event in a journal file; a torn line (a crash mid-write) is skipped and named
    on stderr, once per process."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                event = json.loads(line) if line.endswith("\n") else None
            except json.JSONDecodeError:
                event = None
            if isinstance(event, dict):
                yield event
            elif line.strip() and _first_time(path, number):
                log.warning("agent: %s, line %d: skipped a torn line, what a crash mid-write leaves (%d characters)",
                            path, number, len(line.rstrip("\n")))


def _first_time(path: Path, number: int) -> bool:
    key = (os.path.realpath(path), number)
    if key in _named_torn:
        return False
    _named_torn.add(key)
    return True


def _ends_torn(path: Path) -> bool:
    """Whether the file's last line lacks its newline: an event a crash cut short."""
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"
