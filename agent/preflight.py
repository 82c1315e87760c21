"""What every run checks before it makes anything, in one place: `agent run`, `agent resume`,
`agent batch` (dry run included) and `agent doctor` all ask the same questions."""

from __future__ import annotations

from pathlib import Path

from agent.config import AgentConfig
from critics.registry import Critic, load_critics


def run_roles(critics: list[Critic]) -> tuple[str, ...]:
    """Every role a run calls the model as."""
    return ("planner", "executor", *(c.name for c in critics))


def preflight(config: AgentConfig, repo_root: Path, *, no_critics: bool = False,
              require_keys: bool = True) -> list[Critic]:
    """The run's critics; UserError when one cannot be loaded or (with `require_keys`) a role has no key.

    Nothing is created before this passes: a bad setting leaves no branch, worktree or journal.
    """
    critics = [] if no_critics else load_critics(config.critics, repo_root)
    if require_keys:
        for role in run_roles(critics):
            config.require_key(role)
    return critics
