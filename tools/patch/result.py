"""What applying a patch did: per file, per hunk, and the text the model reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FileAction = Literal["applied", "created", "deleted", "renamed", "refused"]


@dataclass
class HunkOutcome:
    """One hunk: where it matched (1-based line in the file as it was) and by which rung."""

    index: int
    header: str
    ok: bool
    method: str | None = None
    line: int | None = None
    offset: int | None = None  # matched line minus the line the patch stated
    similarity: float | None = None
    error: str | None = None


@dataclass
class FileOutcome:
    """One file of the patch: what happened to it, or why it was refused."""

    path: str
    action: FileAction
    ok: bool
    new_path: str | None = None
    hunks: list[HunkOutcome] = field(default_factory=list)
    error: str | None = None


@dataclass
class PatchResult:
    """The whole patch: applied (every file) or refused (no file touched)."""

    ok: bool
    message: str
    files: list[FileOutcome] = field(default_factory=list)
    format: str | None = None
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: outcome, message, format, and per-file, per-hunk details."""
        data = asdict(self)
        data["status"] = ("would apply" if self.dry_run else "applied") if self.ok else "refused"
        return data
