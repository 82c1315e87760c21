"""The run journal: `.agent/runs/<id>/events.jsonl`, one JSON event a line, written as things happen.

Every event is flushed and fsynced before `append` returns, so a crash loses at most the event
being written; a torn last line is ignored on replay. Secrets are redacted before writing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

Event = dict[str, Any]
Listener = Callable[[Event], None]


def runs_dir(repo_root: Path) -> Path:
    return repo_root / ".agent" / "runs"


def run_dir(repo_root: Path, run_id: str) -> Path:
    return runs_dir(repo_root) / run_id


class Journal:
    """Append-only event log of one run; listeners (the terminal view) see each event as written."""

    def __init__(self, path: Path, redact: Callable[[Any], Any] | None = None):
        self.path = path
        self._redact = redact or (lambda obj: obj)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

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

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> Iterator[Event]:
    """Every complete event in a journal file; a torn final line (a crash mid-write) is skipped."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
