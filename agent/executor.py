"""The executor: one step's tool loop, with preserved thinking and an append-only history.

Each request repeats the previous request's messages byte for byte and only appends, so the
provider's prefix cache hits; the only exception is a context-length error, after which the
history is shrunk (oldest tool outputs first, then a summary of earlier turns).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

from agent.errors import ContextLengthError
from agent.history import KeepArguments, bound_tool_calls, compact_history, drop_old_tool_outputs
from agent.llm.tokens import estimate_tokens
from agent.llm.types import ChatRequest, Completion, Message, StreamCallbacks, ToolCall
from agent.prompting import render_prompt
from agent.protocols import ModelClient


class ToolResultLike(Protocol):
    text: str
    is_error: bool
    data: dict[str, Any] | None


class ToolBox(Protocol):
    schemas: list[dict[str, Any]]

    def run(self, call: ToolCall) -> ToolResultLike: ...


Stop = Literal["turns", "tool_calls", "repeats", "no_tool_calls"]  # which limit ended a blocked step


@dataclass
class StepOutcome:
    status: Literal["finished", "blocked"]
    summary: str = ""
    reason: str | None = None
    stop: Stop | None = None


@dataclass
class ExecutorLimits:
    max_tool_calls: int = 40
    repeat_nudge_at: int = 3  # identical consecutive calls that earn a nudge
    max_idle_turns: int = 3  # replies without a tool call before the step is blocked
    max_turns: int | None = None  # model requests per step; None: twice the tool-call budget
    prompt_tokens: int | None = None  # shrink the history before a request would exceed this


@dataclass
class Executor:
    client: ModelClient
    tools: ToolBox
    limits: ExecutorLimits = field(default_factory=ExecutorLimits)
    callbacks: StreamCallbacks | None = None
    step_id: str | None = None
    messages: list[Message] = field(default_factory=list)
    keep_arguments: KeepArguments | None = None  # stores a long tool call's arguments; the history keeps a stand-in
    role: str = "executor"  # the role its requests go out as: "escalation" when a stronger model takes the step
    tool_calls_used: int = 0
    edited_since_tests: bool = True
    last_tests: dict[str, Any] | None = None
    last_tests_text: str = ""
    turns_used: int = 0
    _last_call: tuple[str, str] | None = None
    _repeats: int = 0
    # Why the next turn should think whatever its step's label (reasoning = "auto"); one turn only.
    _think_next: str | None = None

    def start(self, system_prompt: str, step_prompt: str, step_id: str) -> None:
        self.step_id = step_id
        self.messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": step_prompt}]

    def revise(self, findings: str, attempt: int, max_attempts: int) -> None:
        """Send the gate's findings back; the history goes on where it was."""
        self.tell(render_prompt("executor_revision", findings=findings, attempt=attempt, max_attempts=max_attempts),
                  think="auto: the critics asked for changes")

    def tell(self, text: str, think: str = "auto: new instructions to act on") -> None:
        """A user message for the next turn (findings, guidance); the history goes on where it was, and
        that turn reasons (`think` says why) whatever the step's label.

        A step stopped mid-turn (a call repeated too often) left calls without results: each gets
        one first, since a request may not leave a tool call unanswered.
        """
        answered = {m.get("tool_call_id") for m in self.messages if m.get("role") == "tool"}
        last = next((m for m in reversed(self.messages) if m.get("role") == "assistant"), {})
        for call in last.get("tool_calls") or []:
            if call.get("id") not in answered:
                self.messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": render_prompt(
                    "executor_not_run")})
        self.messages.append({"role": "user", "content": text})
        self._think_next = think

    def fresh_budget(self) -> None:
        """A new attempt after the loop limits stopped the step: its tool calls and turns count from zero."""
        self.tool_calls_used = self.turns_used = self._repeats = 0
        self._last_call = None

    def run(self) -> StepOutcome:
        """Loop until finish_step, a budget (tool calls or turns) runs out, or the model goes in circles."""
        idle = 0
        max_turns = self.limits.max_turns or 2 * self.limits.max_tool_calls
        while self.tool_calls_used < self.limits.max_tool_calls:
            if self.turns_used >= max_turns:
                return StepOutcome("blocked", reason=f"the step used its budget of {max_turns} model turns", stop="turns")
            self.turns_used += 1
            completion = self._ask()
            message = self.client.assistant_message(self.role, completion)
            self.messages.append(message if self.keep_arguments is None else bound_tool_calls(message, self.keep_arguments))
            if not completion.tool_calls:
                idle += 1
                if idle >= self.limits.max_idle_turns:
                    return StepOutcome("blocked", reason=f"the model answered {idle} times without calling a tool",
                                       stop="no_tool_calls")
                self.messages.append({"role": "user", "content": render_prompt("executor_nudge_tool")})
                continue
            idle = 0
            outcome = self._run_calls(completion.tool_calls)
            if outcome is not None:
                return outcome
        return StepOutcome("blocked", reason=f"the step used its budget of {self.limits.max_tool_calls} tool calls",
                           stop="tool_calls")

    def _run_calls(self, calls: list[ToolCall]) -> StepOutcome | None:
        """Run one turn's calls in order; those past the step's budget are answered unrun."""
        finished: StepOutcome | None = None
        nudge: str | None = None
        for call in calls:
            if self.tool_calls_used >= self.limits.max_tool_calls:
                self.messages.append({"role": "tool", "tool_call_id": call.id, "content": render_prompt(
                    "executor_over_budget", budget=self.limits.max_tool_calls)})
                continue
            self.tool_calls_used += 1
            repeats = self._count_repeat(call)
            if repeats > self.limits.repeat_nudge_at:
                return StepOutcome("blocked", reason=f"{call.name} was called {repeats} times in a row with the same arguments",
                                   stop="repeats")
            result = self.tools.run(call)
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": result.text})
            self._note_result(call, result)
            data = result.data or {}
            if data.get("finish") and not result.is_error:
                finished = StepOutcome("finished", summary=str(data.get("summary", "")))
            if repeats == self.limits.repeat_nudge_at:
                nudge = render_prompt("executor_nudge_repeat", tool=call.name, count=repeats)
        if nudge is not None and finished is None:
            self.messages.append({"role": "user", "content": nudge})
        return finished

    def _count_repeat(self, call: ToolCall) -> int:
        key = (call.name, _normalise_args(call.arguments))
        self._repeats = self._repeats + 1 if key == self._last_call else 1
        self._last_call = key
        return self._repeats

    def _note_result(self, call: ToolCall, result: ToolResultLike) -> None:
        if call.name in ("write_patch", "write_file") and not result.is_error:
            self.edited_since_tests = True
        elif call.name == "run_tests":
            self.record_tests(result)
            if _tests_failed(result.data):
                self._think_next = "auto: the last test run failed"

    def record_tests(self, result: ToolResultLike) -> None:
        """A test run of the current tree (the model's or the gate's) is the step's latest."""
        if result.data is not None and "exit_code" in result.data:
            self.last_tests = dict(result.data)
            self.last_tests_text = result.text
            self.edited_since_tests = False

    def _ask(self) -> Completion:
        """One executor request. The history is shrunk first when it would not fit the prompt
        budget, and again on a context-length error (the server counts tokens its own way)."""
        shrinkers = [drop_old_tool_outputs, compact_history]
        while self._over_budget() and self._shrink(shrinkers):
            pass
        while True:
            request = ChatRequest(role=self.role, messages=self.messages, tools=self.tools.schemas,
                                  preserve_thinking=True, step=self.step_id, wants_reasoning=self._think_next)
            try:
                completion = self.client.complete(request, self.callbacks)
                self._think_next = None
                return completion
            except ContextLengthError:
                if not self._shrink(shrinkers):
                    raise

    def _shrink(self, shrinkers: list[Callable[[list[Message]], list[Message] | None]]) -> bool:
        """Apply the next shrinker that changes the history; False when none is left."""
        while shrinkers:
            shrunk = shrinkers.pop(0)(self.messages)
            if shrunk is not None:
                self.messages = shrunk
                return True
        return False

    def _over_budget(self) -> bool:
        budget = self.limits.prompt_tokens
        return budget is not None and estimate_tokens(self.messages, self.tools.schemas) > budget


def _tests_failed(data: dict[str, Any] | None) -> bool:
    """Whether a run_tests result is tests that ran and failed (not a setup failure or no tests at all)."""
    if not data or data.get("ran") is False or data.get("exit_code") is None:
        return False
    return data.get("exit_code") != 0 or bool(data.get("failed")) or bool(data.get("errors"))


def _normalise_args(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), sort_keys=True)
    except (json.JSONDecodeError, TypeError):
        return arguments
