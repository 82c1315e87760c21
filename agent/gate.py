"""The gate: every enabled critic judges a step at once; the step passes when all approve."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from agent.jsonparse import strict_json_format
from agent.llm.types import ChatRequest, Message, ToolCall
from agent.prompting import render_prompt
from agent.protocols import ModelClient
from critics.registry import Critic
from critics.verdict import Finding, Verdict, parse_verdict, verdict_json_schema

QA_MAX_TEST_RUNS = 2
# Requests per critic and gate: the test runs, the verdict, one repair. A critic that never gives
# a verdict (one that keeps calling tools) is cut off here and the gate fails closed.
MAX_CRITIC_TURNS = QA_MAX_TEST_RUNS + 2


@dataclass(frozen=True)
class StepUnderReview:
    task: str
    title: str
    description: str
    acceptance: str
    summary: str
    diff: str
    tests: str


@dataclass
class GateResult:
    verdicts: dict[str, Verdict]

    @property
    def passed(self) -> bool:
        return all(v.approved for v in self.verdicts.values())

    def findings_text(self) -> str:
        """The findings of every critic that asked for changes, for the executor."""
        lines = []
        for name, verdict in self.verdicts.items():
            if verdict.approved:
                continue
            for f in verdict.findings:
                where = f" ({f.file}{':' + str(f.line) if f.line else ''})" if f.file else ""
                hint = f" Suggestion: {f.suggestion}" if f.suggestion else ""
                lines.append(f"- [{name}, {f.severity}]{where} {f.message}{hint}")
        return "\n".join(lines) or "- (a critic asked for changes without findings)"

    def as_json(self) -> dict[str, dict[str, Any]]:
        return {name: v.model_dump() for name, v in self.verdicts.items()}


TestRunner = Callable[[ToolCall], str]  # runs the qa critic's run_tests call, returns the tool result text


@dataclass
class Gate:
    client: ModelClient
    critics: list[Critic]
    run_tests_schema: dict[str, Any] | None = None
    run_tests: TestRunner | None = None
    on_verdict: Callable[[str, Verdict], None] | None = None

    def judge(self, step: StepUnderReview, step_id: str) -> GateResult:
        """All critics at once; a gate takes about as long as its slowest critic.

        Critics wait on the network, so threads over the (thread-safe) sync client overlap them as
        well as an event loop would, without tying the SDK's connection pool to a loop per gate.
        """
        if not self.critics:
            return GateResult({})
        with ThreadPoolExecutor(max_workers=len(self.critics), thread_name_prefix="critic") as pool:
            results = list(pool.map(lambda c: self._judge_one(c, step, step_id), self.critics))
        return GateResult(dict(zip((c.name for c in self.critics), results)))

    def _judge_one(self, critic: Critic, step: StepUnderReview, step_id: str) -> Verdict:
        user = render_prompt("critic_user", task=step.task, title=step.title, description=step.description,
                             acceptance=step.acceptance, summary=step.summary or "(none)",
                             diff=step.diff or "(no changes)", tests=step.tests)
        messages: list[Message] = [{"role": "system", "content": critic.system_prompt},
                                   {"role": "user", "content": user}]
        verdict = self._converse(critic, messages, step_id)
        if self.on_verdict is not None:
            self.on_verdict(critic.name, verdict)
        return verdict

    def _converse(self, critic: Critic, messages: list[Message], step_id: str) -> Verdict:
        """Ask until the critic gives a readable verdict, within MAX_CRITIC_TURNS requests.

        Tools are offered only to a critic that may run the tests, and only QA_MAX_TEST_RUNS times;
        a tool call made when none was offered is not run, it is an answer without a verdict.
        """
        offered = [self.run_tests_schema] if critic.can_run_tests and self.run_tests_schema and self.run_tests else None
        test_runs = repairs = 0
        error = "no answer"
        for turn in range(1, MAX_CRITIC_TURNS + 1):
            tools = offered if test_runs < QA_MAX_TEST_RUNS else None
            request = ChatRequest(role=critic.name, messages=messages, step=step_id, tools=tools,
                                  response_format=self._response_format(tools))
            completion = self.client.complete(request)
            messages = [*messages, self.client.assistant_message(critic.name, completion)]
            if completion.tool_calls and tools:
                test_runs += 1
                messages += [{"role": "tool", "tool_call_id": c.id, "content": self._critic_tool(c)}
                             for c in completion.tool_calls]
                continue
            try:
                return parse_verdict(completion.content)
            except ValueError as exc:
                error = str(exc) if not completion.tool_calls else (
                    f"it kept calling tools instead of giving a verdict; stopped after {turn} requests")
            if repairs:
                return _unreadable_verdict(critic.name, error)
            repairs += 1
            messages += _answer_calls(completion.tool_calls)
            messages.append({"role": "user", "content": render_prompt("critic_repair", error=error)})
        return _unreadable_verdict(critic.name, f"no verdict within {MAX_CRITIC_TURNS} turns; last problem: {error}")

    def _critic_tool(self, call: ToolCall) -> str:
        if call.name != "run_tests":
            return f"error: unknown tool {call.name!r}; the only tool available to you is run_tests"
        assert self.run_tests is not None
        return self.run_tests(call)

    def _response_format(self, tools: list[dict[str, Any]] | None) -> dict[str, Any] | None:
        # A strict schema would forbid the tool call the qa critic may make first. Whether the
        # critic's own provider enforces one is its profile's business (the client drops it if not).
        if tools:
            return None
        return strict_json_format("verdict", verdict_json_schema())


def _answer_calls(calls: list[ToolCall]) -> list[Message]:
    """Tool results for calls a critic made without being offered tools: every call needs one."""
    return [{"role": "tool", "tool_call_id": c.id, "content": "error: no tools are available now; answer your verdict"}
            for c in calls]


def _unreadable_verdict(critic: str, error: str) -> Verdict:
    """A critic whose answer cannot be read does not approve: the gate fails closed."""
    return Verdict(verdict="request_changes", findings=[Finding(
        severity="medium", message=f"the {critic} critic's answer could not be read ({error}); the step is judged again",
    )])
