"""Routing whole tasks: with `route = "auto"`, a task the plan rates beyond GLM (by the configured
rule) is executed by the escalation role from its first step, and the run says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from agent.config import ESCALATION_ROLE, AgentConfig
from agent.planner import Difficulty, Plan

DIFFICULTY_RANK = {name: rank for rank, name in enumerate(get_args(Difficulty))}


@dataclass(frozen=True)
class Route:
    """Which role executes the plan's steps, with which model, and why."""

    executor: str
    model: str
    reasons: tuple[str, ...]  # the rule's conditions the plan meets; empty: GLM executes it

    def record(self) -> dict[str, object]:
        return {"executor": self.executor, "model": self.model, "reasons": list(self.reasons)}


def beyond_glm(plan: Plan, config: AgentConfig) -> tuple[str, ...]:
    """The conditions of the routing rule that `plan` meets, one sentence each."""
    reasons = []
    wanted = config.route_difficulty
    if wanted != "never" and plan.difficulty is not None and DIFFICULTY_RANK[plan.difficulty] >= DIFFICULTY_RANK[wanted]:
        reasons.append(f"the planner rates the task {plan.difficulty} (route_difficulty = {wanted})")
    complex_steps = sum(step.complexity == "complex" for step in plan.steps)
    if config.route_complex_steps and complex_steps >= config.route_complex_steps:
        reasons.append(f"{complex_steps} of its {len(plan.steps)} steps are complex "
                       f"(route_complex_steps = {config.route_complex_steps})")
    if config.route_steps and len(plan.steps) >= config.route_steps:
        reasons.append(f"the plan has {len(plan.steps)} steps (route_steps = {config.route_steps})")
    return tuple(reasons)


def route(plan: Plan, config: AgentConfig) -> Route:
    """The executor for `plan`: the escalation role when the rule rates the task beyond GLM."""
    reasons = beyond_glm(plan, config)
    role = ESCALATION_ROLE if reasons else "executor"
    return Route(role, config.role_settings(role).model, reasons)


def describe(r: Route) -> str:
    """The line the run shows: who executes, and why."""
    if r.executor == ESCALATION_ROLE:
        return f"route: {r.model} (the escalation role) executes every step: {'; '.join(r.reasons)}"
    return f"route: {r.model} executes: the plan is within GLM's rule"
