"""Shrinking an executor history that no longer fits the context window.

Both functions keep the message list valid for the API: the system and first user message stay,
and an assistant message with tool calls is never separated from its tool results.
"""

from __future__ import annotations

from agent.llm.types import Message
from agent.prompting import render_prompt

DROPPED = "[tool output dropped to fit the context window]"
KEEP_RECENT_TOOL_OUTPUTS = 4
KEEP_RECENT_TURNS = 6


def drop_old_tool_outputs(messages: list[Message]) -> list[Message] | None:
    """The history with all but the most recent tool outputs replaced by a marker; None if nothing to drop."""
    tool_indexes = [i for i, m in enumerate(messages) if m.get("role") == "tool" and m.get("content") != DROPPED]
    old = tool_indexes[:-KEEP_RECENT_TOOL_OUTPUTS]
    if not old:
        return None
    shrunk = list(messages)
    for i in old:
        shrunk[i] = {**messages[i], "content": DROPPED}
    return shrunk


def _turn_starts(messages: list[Message]) -> list[int]:
    """Indexes where a turn starts: an assistant or user message (tool results belong to the assistant before them)."""
    return [i for i, m in enumerate(messages) if i >= 2 and m.get("role") in ("assistant", "user")]


def compact_history(messages: list[Message]) -> list[Message] | None:
    """System, task, a summary of the dropped middle, and the last turns; None if too short to compact."""
    starts = _turn_starts(messages)
    if len(starts) <= KEEP_RECENT_TURNS:
        return None
    cut = starts[-KEEP_RECENT_TURNS]
    summary = "\n".join(_summarise(m) for m in messages[2:cut] if m.get("role") == "assistant")
    note = {"role": "user", "content": render_prompt("executor_compact", summary=summary or "(no tool calls)")}
    return [*messages[:2], note, *messages[cut:]]


def _summarise(message: Message) -> str:
    calls = message.get("tool_calls") or []
    names = ", ".join(f"{c['function']['name']}({c['function']['arguments'][:120]})" for c in calls)
    text = (message.get("content") or "").strip().splitlines()
    said = f" said: {text[0][:160]}" if text else ""
    return f"- called {names or 'no tool'}{said}"
