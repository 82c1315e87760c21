"""A critic's persona file: YAML front matter declaring what the critic may do, then its role text.

```
---
modes: [gate, review]                      # where it judges: the step gate, `agent review`
tools: [read_file, list_files, search]     # what it may call; the mode offers what it can of these
ignore_paths: ["*.md", "docs/**"]          # changed paths that do not concern it
skip_reason: docs only                     # said when a change holds nothing else
---
You are a senior ...
```
A file without front matter is all role text, with the defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.walk import glob_matcher

Mode = Literal["gate", "review"]
MODES: tuple[Mode, ...] = ("gate", "review")
_FENCE = "---"


class PersonaError(ValueError):
    """A persona file that cannot be used; the message names the file and the problem."""


class Capabilities(BaseModel):
    """The front matter: every key optional, unknown keys refused (a typo must not widen nothing silently)."""

    model_config = ConfigDict(extra="forbid")

    modes: list[Mode] = Field(default_factory=lambda: list(MODES))
    tools: list[str] | None = None  # None: the context tools (read_file, list_files, search)
    paths: list[str] = Field(default_factory=lambda: ["**"])  # changed paths that concern the critic
    ignore_paths: list[str] = Field(default_factory=list)  # ... minus these
    skip_reason: str | None = Field(None, max_length=60)


@dataclass(frozen=True)
class PersonaFile:
    capabilities: Capabilities
    text: str  # the role text after the front matter


def read_persona(text: str, source: str) -> PersonaFile:
    """The front matter and role text of a persona file; PersonaError naming `source` when either is bad."""
    body, front = text, None
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip() == _FENCE:
        end = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() == _FENCE), None)
        if end is None:
            raise PersonaError(f"{source}: the front matter opened by '---' is never closed by another '---'")
        front, body = "".join(lines[1:end]), "".join(lines[end + 1:])
    capabilities = _capabilities(front, source)
    if not body.strip():
        raise PersonaError(f"{source}: the persona text is empty")
    return PersonaFile(capabilities, body.strip())


def _capabilities(front: str | None, source: str) -> Capabilities:
    if front is None:
        return Capabilities()
    try:
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        raise PersonaError(f"{source}: the front matter is not YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return Capabilities()
    if not isinstance(data, dict):
        raise PersonaError(f"{source}: the front matter must be keys and values (modes, tools, paths, ...)")
    try:
        return Capabilities.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "front matter"
        raise PersonaError(f"{source}: front matter {where}: {first['msg']}") from None


@dataclass(frozen=True)
class Relevance:
    """Which changed paths concern a critic; a change with none of them skips it, with a reason."""

    paths: tuple[str, ...] = ("**",)
    ignore_paths: tuple[str, ...] = ()
    skip_reason: str | None = None

    def concerns(self, path: str) -> bool:
        return (any(glob_matcher(g)(path) for g in self.paths)
                and not any(glob_matcher(g)(path) for g in self.ignore_paths))

    def why_skip(self, changed: list[str]) -> str | None:
        """Why a change of `changed` paths does not concern the critic, or None when it does.

        A change of nothing concerns every critic: an empty step is judged, never waved through.
        """
        if not changed or any(self.concerns(path) for path in changed):
            return None
        return self.skip_reason or "no changed file concerns it"
