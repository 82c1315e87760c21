"""The notes, kept in memory in the order they were added."""

from __future__ import annotations

import threading


class NoteStore:
    def __init__(self) -> None:
        self._notes: list[str] = []
        self._lock = threading.Lock()

    def add(self, text: str) -> str:
        """Add a note; blank notes are refused with ValueError."""
        text = text.strip()
        if not text:
            raise ValueError("a note needs some text")
        with self._lock:
            self._notes.append(text)
        return text

    def all(self) -> list[str]:
        with self._lock:
            return list(self._notes)
