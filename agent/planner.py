"""The planner: one model call that turns a task into 1 to 12 steps (SPEC §5)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from agent.ask import AnswerError, JsonQuestion, ask_json
from agent.errors import ModelAPIError
from agent.jsonparse import parse_answer, strict_json_format
from agent.llm.types import Message, StreamCallbacks
from agent.prompting import render_prompt
from agent.protocols import ModelClient

MAX_PLAN_STEPS = 12
# How much thinking a step needs, in the planner's judgement: reasoning can be off for a simple one.
Complexity = Literal["simple", "complex"]
# The planner's judgement of the whole task, for routing it to a model that can carry it.
Difficulty = Literal["easy", "moderate", "hard"]


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    acceptance: str = ""
    # A step the planner did not label is treated as complex: reasoning is never dropped by omission.
    complexity: Complexity = "complex"


class Plan(BaseModel):
    model_config = ConfigDict(extra="ignore")

    steps: list[PlanStep] = Field(min_length=1, max_length=MAX_PLAN_STEPS)
    difficulty: Difficulty | None = None  # None: the planner did not rate the task

    def complexity_of(self, step_id: str) -> Complexity | None:
        """The label of the step called `step_id` (`step-3`), None for anything else (`plan`, `final`)."""
        number = step_id.removeprefix("step-")
        if number.isdigit() and 1 <= int(number) <= len(self.steps):
            return self.steps[int(number) - 1].complexity
        return None


def plan_json_schema() -> dict[str, Any]:
    """The strict JSON schema of the planner's answer (every property required, as strict mode wants)."""
    step = {
        "type": "object",
        "properties": {**{k: {"type": "string"} for k in ("title", "description", "acceptance")},
                       "complexity": {"type": "string", "enum": list(get_args(Complexity))}},
        "required": ["title", "description", "acceptance", "complexity"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"steps": {"type": "array", "items": step},
                       "difficulty": {"type": "string", "enum": list(get_args(Difficulty))}},
        "required": ["steps", "difficulty"],
        "additionalProperties": False,
    }


def parse_plan(text: str, max_steps: int) -> Plan:
    """The plan in the planner's answer; ValueError with a reason the model can act on."""
    plan = parse_answer(text, Plan)
    if len(plan.steps) > max_steps:
        raise ValueError(f"the plan has {len(plan.steps)} steps; at most {max_steps} are allowed")
    return plan


def make_plan(client: ModelClient, task: str, repo_view: str, *, max_steps: int,
              callbacks: StreamCallbacks | None = None) -> Plan:
    """Ask the planner; one repair request on an invalid answer, then ModelAPIError."""
    messages: list[Message] = [
        {"role": "system", "content": render_prompt("planner", max_steps=max_steps)},
        {"role": "user", "content": render_prompt("planner_user", task=task, repo_view=repo_view)},
    ]
    question = JsonQuestion(
        role="planner", step="plan", parse=lambda text: parse_plan(text, max_steps),
        repair=lambda error: render_prompt("plan_repair", error=error, max_steps=max_steps),
        # Sent only where the planner's own provider enforces strict schemas (its profile says).
        response_format=strict_json_format("plan", plan_json_schema()), callbacks=callbacks)
    try:
        return ask_json(client, question, messages)
    except AnswerError as exc:
        raise ModelAPIError(f"the planner did not return a valid plan after a repair request: {exc}") from None
