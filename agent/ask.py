"""The one way a JSON answer is asked for: ask, parse, one repair request, then fail.

The planner, the gate's critics and the review's critics all use it. A caller that offers tools
gets their results into the conversation until the model answers text; the repair request offers
none and asks for the strict schema, so the model can only answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from agent.llm.types import ChatRequest, Message, StreamCallbacks, ToolCall
from agent.protocols import ModelClient

T = TypeVar("T")


class AnswerError(Exception):
    """No readable answer: the original question and one repair request both failed (or the turns ran out)."""


@dataclass
class JsonQuestion(Generic[T]):
    """What to ask for and how to read it."""

    role: str
    step: str
    parse: Callable[[str], T]  # the answer, or ValueError with a reason the model can act on
    repair: Callable[[str], str]  # the repair request's text for a given reason
    response_format: dict[str, Any] | None = None  # sent on requests that offer no tools
    tools: list[dict[str, Any]] | None = None
    run_tool: Callable[[ToolCall], str] | None = None  # a tool call's result text; may raise to stop the talk
    max_requests: int = 2
    callbacks: StreamCallbacks | None = None


def ask_json(client: ModelClient, question: JsonQuestion[T], messages: list[Message]) -> T:
    """The parsed answer; AnswerError with the last problem when none could be read."""
    repaired, error = False, "no answer"
    for used in range(1, question.max_requests + 1):
        tools = question.tools if question.tools and not repaired else None
        request = ChatRequest(role=question.role, messages=messages, step=question.step, tools=tools,
                              response_format=None if tools else question.response_format)
        completion = client.complete(request, question.callbacks)
        messages = [*messages, client.assistant_message(question.role, completion)]
        if completion.tool_calls and tools and question.run_tool is not None:
            messages += [{"role": "tool", "tool_call_id": c.id, "content": question.run_tool(c)}
                         for c in completion.tool_calls]
            continue
        try:
            return question.parse(completion.content)
        except ValueError as exc:
            error = str(exc) if not completion.tool_calls else (
                f"it kept calling tools instead of giving an answer; stopped after {used} requests")
        if repaired:
            raise AnswerError(error)
        repaired = True
        messages += _refused_calls(completion.tool_calls)
        messages.append({"role": "user", "content": question.repair(error)})
    raise AnswerError(f"no answer within {question.max_requests} requests; last problem: {error}")


def _refused_calls(calls: list[ToolCall]) -> list[Message]:
    """Tool results for calls made when none could be run: every call needs one."""
    return [{"role": "tool", "tool_call_id": c.id, "content": "error: no tools are available now; give your answer"}
            for c in calls]
