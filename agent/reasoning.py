"""Reasoning chosen per request: a role's mode ("on", "off", "auto") and, with "auto", the step.

With "auto" a request reasons when its caller asks for it (the executor's turn after a failing test
run or the critics' findings), or when its step is labelled complex or not labelled at all (the
planner's own request, the final test run); a step the planner labelled simple runs without.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from agent.llm.types import ChatRequest
from agent.planner import Plan

ModeOf = Callable[[str], str]  # a role's reasoning mode: "on", "off" or "auto"


class ReasoningChooser:
    """Decides each request's reasoning (and says why) before it is sent and journaled."""

    def __init__(self, mode_of: ModeOf, plan: Plan | None = None):
        self.mode_of = mode_of
        self.plan = plan  # the steps' labels, once planned

    def decide(self, request: ChatRequest) -> ChatRequest:
        """`request` with `reasoning` and `reasoning_why` set; a request that already says is left as it is."""
        if request.reasoning is not None:
            why = request.reasoning_why or "set for this request"
            return dataclasses.replace(request, reasoning_why=why)
        on, why = self._choose(request)
        return dataclasses.replace(request, reasoning=on, reasoning_why=why)

    def _choose(self, request: ChatRequest) -> tuple[bool, str]:
        mode = self.mode_of(request.role)
        if mode != "auto":
            return mode == "on", f"reasoning = {mode}"
        if request.wants_reasoning:
            return True, request.wants_reasoning
        label = self.plan.complexity_of(request.step) if self.plan is not None and request.step else None
        if label is None:
            return True, "auto: not a labelled step"
        return label == "complex", f"auto: {label} step"
