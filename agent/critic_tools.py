"""What a critic may call, and one critic's conversation: its tools within a budget, then its verdict.

The gate and `agent review` both judge through `judge_with_tools`. Context tools are the executor's
own read_file, list_files and search (same confinement and secret rules), rooted at the tree under
review, which is a snapshot and never the checkout the executor edits. Tools that run something
(the gate's run_tests) come from the caller as runners; the persona's front matter decides which
of them a critic is offered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from agent.ask import AnswerError, JsonQuestion, ask_json
from agent.jsonparse import strict_json_format, strict_schema
from agent.llm.types import Message, ToolCall
from agent.prompting import render_prompt
from agent.protocols import ModelClient
from agent.redact import redact, redact_exact
from critics.registry import CONTEXT_TOOLS, DEFAULT_TOOL_BYTES, DEFAULT_TOOL_CALLS, Critic
from critics.verdict import Finding, Severity, Verdict, parse_verdict
from tools.paths import PathRefused, confine
from tools.registry import ToolContext, ToolResult, dispatch, tool_schemas
from tools.trim import trim_middle

ToolRunner = Callable[[ToolCall], ToolResult]
CallRecorder = Callable[[str, ToolCall, ToolResult], None]  # critic name, call, result: for the journal
AGENTS_MD_CHARS = 8_000  # of the repository's AGENTS.md shown to each critic


@dataclass(frozen=True)
class ToolBudget:
    """What one critic may spend on tools in one judgement; more fails it closed."""

    calls: int = DEFAULT_TOOL_CALLS
    bytes: int = DEFAULT_TOOL_BYTES


class OverBudget(Exception):
    """A critic asked for more tool calls or result bytes than its budget holds."""


class CriticKit(Protocol):
    """Tools with state of their own for one critic's judgement (the qa critic's probes and browser):
    bounded by their own limits, not by the context budget; what they proved is settled into the
    verdict, and what they started is closed, in the critic's own thread, when the judgement ends."""

    max_calls: int

    def names(self) -> tuple[str, ...]: ...

    def schema(self, name: str) -> dict[str, Any]: ...

    def brief(self) -> tuple[str, str]: ...  # (rules for the system prompt, facts for the user message)

    def run(self, call: ToolCall) -> ToolResult: ...

    def cite(self, verdict: Verdict) -> Verdict: ...  # before the evidence check

    def settle(self, verdict: Verdict) -> Verdict: ...  # after it

    def close(self) -> None: ...


@dataclass
class CriticTools:
    """The tools a mode can offer its critics: context tools over `context.root`, plus runners."""

    context: ToolContext  # rooted at the tree under review
    budget: ToolBudget = field(default_factory=ToolBudget)
    runners: dict[str, ToolRunner] = field(default_factory=dict)  # e.g. the gate's run_tests
    secret_values: tuple[str, ...] = ()
    record: CallRecorder | None = None
    kits: Callable[[Critic], CriticKit] | None = None  # e.g. the gate's probe and browser tools

    def offered(self, critic: Critic) -> list[str]:
        """The persona's tools this mode can run, in the persona's order; none with a budget of 0 calls."""
        if self.budget.calls == 0:
            return []
        return [name for name in critic.tools if name in CONTEXT_TOOLS or name in self.runners]

    def session(self, critic: Critic) -> "ToolSession":
        kit = self.kits(critic) if self.kits is not None else None
        own = [name for name in critic.tools if kit is not None and name in kit.names()]
        if kit is not None and not own:
            kit.close()
        return ToolSession(self, critic.name, [*self.offered(critic), *own], kit=kit if own else None)


@dataclass
class ToolSession:
    """One critic's use of the tools in one judgement: what it spent, and what it may still."""

    tools: CriticTools
    critic: str
    names: list[str]
    kit: CriticKit | None = None
    calls: int = 0
    bytes: int = 0

    def schemas(self) -> list[dict[str, Any]] | None:
        kit = self.kit.names() if self.kit is not None else ()
        shared = [name for name in self.names if name not in kit]
        own = [self.kit.schema(name) for name in self.names if name in kit]  # type: ignore[union-attr]
        return [*(tool_schemas(shared) if shared else []), *own] or None

    def brief(self) -> tuple[str, str]:
        """What the critic is told about its kit: rules for the system prompt, facts for the user message."""
        return self.kit.brief() if self.kit is not None else ("", "")

    def cite(self, verdict: Verdict) -> Verdict:
        return self.kit.cite(verdict) if self.kit is not None else verdict

    def settle(self, verdict: Verdict) -> Verdict:
        return self.kit.settle(verdict) if self.kit is not None else verdict

    def close(self) -> None:
        if self.kit is not None:
            self.kit.close()

    def run(self, call: ToolCall) -> str:
        """The call's result for the critic; OverBudget when it would pass the budget."""
        if self.kit is not None and call.name in self.names and call.name in self.kit.names():
            result = self._clean(self.kit.run(call))  # bounded by the kit's own limits
            if self.tools.record is not None:
                self.tools.record(self.critic, call, result)
            return result.text
        budget = self.tools.budget
        if self.calls >= budget.calls:
            raise OverBudget(f"it asked for more than its budget of {budget.calls} tool calls")
        self.calls += 1
        result = self._result(call)
        size = len(result.text.encode("utf-8"))
        if self.bytes + size > budget.bytes:
            raise OverBudget(f"its tool results passed its budget of {budget.bytes} bytes")
        self.bytes += size
        if self.tools.record is not None:
            self.tools.record(self.critic, call, result)
        left = f"[tool budget left: {budget.calls - self.calls} calls, {budget.bytes - self.bytes} bytes]"
        return f"{result.text}\n{left}"

    def _result(self, call: ToolCall) -> ToolResult:
        runner = self.tools.runners.get(call.name) if call.name in self.names else None
        if runner is not None:
            result = runner(call)
        else:
            context_names = [n for n in self.names if n in CONTEXT_TOOLS]
            result = dispatch(call, self.tools.context, context_names)
        return self._clean(result)

    def _clean(self, result: ToolResult) -> ToolResult:
        text = redact(result.text)
        if self.tools.secret_values:
            text = redact_exact(text, self.tools.secret_values)
        return ToolResult(text, result.is_error, result.data)


def verdict_format() -> dict[str, Any]:
    """The strict verdict schema, derived from the Verdict model (the client drops it where the
    critic's provider does not enforce strict schemas)."""
    return strict_json_format("verdict", strict_schema(Verdict))


class CriticFailed(Exception):
    """A critic gave no verdict that counts: its answer could not be read, or it passed its tool budget."""


def judge_with_tools(client: ModelClient, critic: Critic, messages: list[Message], step: str,
                     session: ToolSession | None) -> Verdict:
    """The critic's verdict; CriticFailed saying why when there is none (the caller fails closed).

    Requests: one per tool turn within the call budget, the verdict, one repair.
    """
    tools = session.schemas() if session is not None else None
    budget = session.tools.budget.calls if session is not None and tools else 0
    if session is not None and session.kit is not None:
        budget += session.kit.max_calls
    question = JsonQuestion(
        role=critic.name, step=step, parse=parse_verdict,
        repair=lambda error: render_prompt("critic_repair", error=error),
        response_format=verdict_format(), tools=tools,
        run_tool=session.run if session is not None else None, max_requests=budget + 2)
    try:
        return ask_json(client, question, messages)
    except AnswerError as exc:
        raise CriticFailed(f"its answer could not be read ({exc})") from None
    except OverBudget as exc:
        raise CriticFailed(f"it passed its tool budget: {exc}") from None


def fail_closed(message: str, severity: Severity) -> Verdict:
    """A verdict the critic did not give: not an approval, with the reason as its finding."""
    return Verdict(verdict="request_changes", findings=[Finding(severity=severity, message=message)])


def tool_call_record(call: ToolCall, result: ToolResult) -> dict[str, Any]:
    """A critic's tool call as the journal keeps it (arguments parsed where they are JSON)."""
    try:
        arguments: Any = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError:
        arguments = call.arguments
    return {"name": call.name, "arguments": arguments, "is_error": result.is_error,
            "bytes": len(result.text.encode("utf-8"))}


def fence(text: str, info: str = "") -> str:
    """`text` in a Markdown fence longer than any backtick run inside it, so it cannot break out."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def agents_md(root: Path, secret_globs: tuple[str, ...]) -> str:
    """The tree's AGENTS.md for a critic: fenced and labelled as data, trimmed and redacted; "" when none."""
    try:
        path = confine(root, "AGENTS.md", secret_globs=secret_globs)
    except PathRefused:
        return ""
    if not path.is_file():
        return ""
    text = trim_middle(redact(path.read_text(encoding="utf-8", errors="replace")), AGENTS_MD_CHARS)
    return render_prompt("critic_agents", agents=fence(text.strip(), "markdown"))
