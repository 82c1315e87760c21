"""The critic personas, keyed by name: four built in, more from `.agent/critics/NAME.md`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.errors import UserError
from agent.prompting import load_prompt, render_prompt

BUILTIN_CRITICS: tuple[str, ...] = ("reviewer", "qa", "security", "performance")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Critic:
    name: str
    system_prompt: str
    can_run_tests: bool = False  # the qa persona may run the tests itself


def custom_critics_dir(repo_root: Path) -> Path:
    return repo_root / ".agent" / "critics"


def available_critics(repo_root: Path) -> list[str]:
    """Every critic name usable in this repository: built-ins, then custom personas by file name."""
    folder = custom_critics_dir(repo_root)
    custom = sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []
    return [*BUILTIN_CRITICS, *(name for name in custom if name not in BUILTIN_CRITICS)]


def load_critic(name: str, repo_root: Path) -> Critic:
    """The persona `name`; a custom file overrides nothing built in and must have a valid name."""
    rules = load_prompt("critics/_rules").strip()
    if name in BUILTIN_CRITICS:
        return Critic(name, render_prompt(f"critics/{name}", rules=rules), can_run_tests=name == "qa")
    if not _NAME.match(name):
        raise UserError(f"critic name {name!r} is invalid: use lowercase letters, digits, '-' or '_'")
    path = custom_critics_dir(repo_root) / f"{name}.md"
    if not path.is_file():
        known = ", ".join(available_critics(repo_root))
        raise UserError(f"unknown critic {name!r}: expected one of {known} or a persona file at {path}")
    persona = path.read_text(encoding="utf-8", errors="replace").strip()
    if not persona:
        raise UserError(f"{path}: the persona file is empty")
    return Critic(name, render_prompt("critics/custom", persona=persona, rules=rules))


def load_critics(names: list[str], repo_root: Path) -> list[Critic]:
    """The critics to run, in the given order, each once."""
    seen: dict[str, Critic] = {}
    for name in names:
        key = name.strip().lower()
        if key and key not in seen:
            seen[key] = load_critic(key, repo_root)
    return list(seen.values())
