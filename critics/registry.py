"""The critics, keyed by name: four built in (persona files in prompts/critics/), more from
`.agent/critics/NAME.md`. Each persona's front matter says where it judges, which tools it may call
and which changes concern it; the mode decides which of those tools can be offered at all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.prompting import load_prompt, render_prompt
from critics.persona import Mode, PersonaError, PersonaFile, Relevance, read_persona

BUILTIN_CRITICS: tuple[str, ...] = ("reviewer", "qa", "security", "performance")
# Read-only tools over the tree under review (the step's judged tree, the pull request's head).
CONTEXT_TOOLS: tuple[str, ...] = ("read_file", "list_files", "search")
# Tools that run things on a scratch copy of the step's judged tree (agent/qa.py): probe tests, and a
# browser on the app for a web project (offered only where the app and a browser exist).
PROBE_TOOLS: tuple[str, ...] = ("run_probe",)
BROWSER_TOOLS: tuple[str, ...] = ("browser_open", "browser_click", "browser_fill", "browser_read", "browser_app_log")
QA_TOOLS: tuple[str, ...] = (*PROBE_TOOLS, *BROWSER_TOOLS)
# What each mode can offer: a review judges code that was never run here and never runs it.
MODE_TOOLS: dict[Mode, tuple[str, ...]] = {
    "gate": (*CONTEXT_TOOLS, "run_tests", *QA_TOOLS),
    "review": CONTEXT_TOOLS,
}
# What one critic may spend on tools in one judgement, unless configured (critic_tool_calls/_bytes).
DEFAULT_TOOL_CALLS = 12
DEFAULT_TOOL_BYTES = 80_000
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class CriticError(PersonaError):
    """A critic that cannot be loaded: unknown name, bad persona file, or a mode it does not judge in."""


@dataclass(frozen=True)
class Critic:
    name: str
    mode: Mode
    system_prompt: str
    tools: tuple[str, ...] = CONTEXT_TOOLS  # what this critic is offered in its mode
    relevance: Relevance = Relevance()


def custom_critics_dir(repo_root: Path) -> Path:
    return repo_root / ".agent" / "critics"


def available_critics(repo_root: Path) -> list[str]:
    """Every critic name usable in this repository: built-ins, then custom personas by file name."""
    folder = custom_critics_dir(repo_root)
    custom = sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []
    return [*BUILTIN_CRITICS, *(name for name in custom if name not in BUILTIN_CRITICS)]


def builtin_tools() -> tuple[str, ...]:
    """Every tool some built-in persona declares: the most a custom persona may ask for."""
    declared = [tool for name in BUILTIN_CRITICS for tool in _declared_tools(_builtin_file(name))]
    return tuple(dict.fromkeys(declared))


def load_critic(name: str, repo_root: Path, mode: Mode = "gate") -> Critic:
    """The persona `name` for `mode`; CriticError naming the problem when it cannot judge there."""
    rules = load_prompt("critics/_rules").strip()
    if name in BUILTIN_CRITICS:
        persona = _builtin_file(name)
        prompt = render_prompt("critics/builtin", persona=persona.text, rules=rules)
    else:
        persona = _custom_file(name, repo_root)
        allowed = builtin_tools()
        extra = [t for t in _declared_tools(persona) if t not in allowed]
        if extra:
            raise CriticError(f"{custom_critics_dir(repo_root) / (name + '.md')}: tools {', '.join(extra)} are not "
                              f"available to critics; a persona may ask for: {', '.join(allowed)}")
        prompt = render_prompt("critics/custom", persona=persona.text, rules=rules)
    caps = persona.capabilities
    if mode not in caps.modes:
        where = {"gate": "the step gate (agent run)", "review": "agent review"}[mode]
        raise CriticError(f"critic {name!r} does not judge in {where}: its persona's modes are {', '.join(caps.modes)}")
    tools = tuple(t for t in _declared_tools(persona) if t in MODE_TOOLS[mode])
    relevance = Relevance(tuple(caps.paths), tuple(caps.ignore_paths), caps.skip_reason)
    return Critic(name, mode, prompt, tools, relevance)


def load_critics(names: list[str], repo_root: Path, mode: Mode = "gate") -> list[Critic]:
    """The critics to run, in the given order, each once."""
    seen: dict[str, Critic] = {}
    for name in names:
        key = name.strip().lower()
        if key and key not in seen:
            seen[key] = load_critic(key, repo_root, mode)
    return list(seen.values())


def _declared_tools(persona: PersonaFile) -> tuple[str, ...]:
    tools = persona.capabilities.tools
    return CONTEXT_TOOLS if tools is None else tuple(dict.fromkeys(tools))


def _builtin_file(name: str) -> PersonaFile:
    return read_persona(load_prompt(f"critics/{name}"), f"prompts/critics/{name}.md")


def _custom_file(name: str, repo_root: Path) -> PersonaFile:
    if not _NAME.match(name):
        raise CriticError(f"critic name {name!r} is invalid: use lowercase letters, digits, '-' or '_'")
    path = custom_critics_dir(repo_root) / f"{name}.md"
    if not path.is_file():
        known = ", ".join(available_critics(repo_root))
        raise CriticError(f"unknown critic {name!r}: expected one of {known} or a persona file at {path}")
    try:
        return read_persona(path.read_text(encoding="utf-8", errors="replace"), str(path))
    except PersonaError as exc:
        raise CriticError(str(exc)) from None

