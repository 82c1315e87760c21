"""What every run checks before it makes anything, in one place: `agent run`, `agent resume`,
`agent batch` (dry run included) and `agent doctor` all ask the same questions."""

from __future__ import annotations

from pathlib import Path

from agent.config import ESCALATION_ROLE, AgentConfig
from agent.errors import ConfigError, UserError
from critics.registry import Critic, CriticError, load_critics


def run_roles(config: AgentConfig, critics: list[Critic]) -> tuple[str, ...]:
    """Every role a run calls the model as."""
    escalation = (ESCALATION_ROLE,) if config.escalates else ()
    return ("planner", "executor", *(c.name for c in critics), *escalation)


def preflight(config: AgentConfig, repo_root: Path, *, no_critics: bool = False,
              require_keys: bool = True) -> list[Critic]:
    """The run's critics; UserError when one cannot be loaded, escalation is asked for without an
    escalation role, a cost limit meets a model without a price, or (with `require_keys`) a role
    has no key.

    Nothing is created before this passes: a bad setting leaves no branch, worktree or journal.
    """
    check_escalation_role(config)
    try:
        critics = [] if no_critics else load_critics(config.critics, repo_root, "gate")
    except CriticError as exc:
        raise UserError(str(exc)) from None
    check_prices(config, run_roles(config, critics))
    if require_keys:
        for role in run_roles(config, critics):
            config.require_key(role)
    return critics


def check_escalation_role(config: AgentConfig) -> None:
    """Escalation and routing hand work to a model of their own: one must be configured."""
    section = config.roles.get(ESCALATION_ROLE)
    if not config.escalates or (section is not None and section.model):
        return
    key = "route" if config.route == "auto" else "escalation"
    raise UserError(f"{key} = {getattr(config, key)} ({config.origin(key)}) needs an escalation role: set its model in [roles.{ESCALATION_ROLE}] "
                    f"(e.g. model = \"anthropic/claude-sonnet-4.5\", provider = \"openrouter\") in .agent.toml")


def check_prices(config: AgentConfig, roles: tuple[str, ...]) -> None:
    """A cost limit needs a price for every model the run calls: an unpriced one would spend unseen."""
    if config.max_cost_usd is None:
        return
    for role in roles:
        model = config.role_settings(role).model
        if model not in config.prices:
            raise ConfigError(f"max_cost_usd ({config.origin('max_cost_usd')}): no price for model {model!r} "
                              f"(role {role}); add [prices.\"{model}\"] input = … output = … "
                              "(US dollars per million tokens) to .agent.toml")
