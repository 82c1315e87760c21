"""The seams of the product, in one place.

Everything the run loop talks to is one of these: the model client, the workspace it edits,
and a critic. Tests and the demo substitute the scripted server for the model endpoint, never
a fake of these classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from agent.llm.types import ChatRequest, Completion, Message, StreamCallbacks


class ModelClient(Protocol):
    def complete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        """One chat completion, streamed, with retries; raises ModelAPIError kinds."""
        ...

    async def acomplete(
        self, request: ChatRequest, callbacks: StreamCallbacks | None = None
    ) -> Completion:
        """The same, for concurrent callers such as the critic gate."""
        ...

    def assistant_message(self, role: str, completion: Completion) -> Message:
        """The history entry for `completion`, carrying its reasoning the way the role's provider wants it."""
        ...


class Workspace(Protocol):
    root: Path

    def diff(self, base: str | None = None) -> str:
        """Unified diff of the working tree (tracked and untracked files) against `base`
        (default: the last commit, i.e. the current step's changes)."""
        ...

    def commit(self, message: str, trailers: dict[str, str]) -> str:
        """Commit everything in the working tree; return the new commit's sha."""
        ...

    def head(self) -> str:
        """The sha of the current commit."""
        ...
