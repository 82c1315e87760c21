"""Keeping an executor history within the context window: long tool arguments bounded as they
arrive, and a history that no longer fits shrunk.

The shrinking functions keep the message list valid for the API: the system and first user message stay,
and an assistant message with tool calls is never separated from its tool results.
"""

from __future__ import annotations

import json
from typing import Callable

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


MAX_ARGUMENT_CHARS = 4_000  # of one tool call's arguments, as the history repeats them on every request
KeepArguments = Callable[[str, str], str]  # (call id, whole arguments) -> where they were kept


def bound_tool_calls(message: Message, keep: KeepArguments) -> Message:
    """`message` with each tool call's arguments at most about MAX_ARGUMENT_CHARS long.

    A call whose arguments are longer (a 2 MB `write_file`) has been run as it was; the history
    only repeats it, on every later request, so one big call would push every request past the
    context window. Its long string values become a stand-in naming where `keep` stored the whole
    arguments (or, when they are not a JSON object, the arguments become one stand-in).
    """
    calls = message.get("tool_calls") or []
    if all(len(c["function"]["arguments"]) <= MAX_ARGUMENT_CHARS for c in calls):
        return message
    bounded = []
    for call in calls:
        text = call["function"]["arguments"]
        if len(text) > MAX_ARGUMENT_CHARS:
            text = _stand_in(text, keep(call["id"], text))
        bounded.append({**call, "function": {**call["function"], "arguments": text}})
    return {**message, "tool_calls": bounded}


def _stand_in(arguments: str, kept_in: str) -> str:
    """The arguments with every long string value replaced by a note saying where the whole is kept."""
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        value = None
    share = MAX_ARGUMENT_CHARS // 4
    if not isinstance(value, dict):
        return json.dumps({"arguments": f"{arguments[:share]} [... {len(arguments):,} characters in all, kept in {kept_in}]"})
    bounded = json.dumps({key: f"[{len(item):,} characters, not repeated here; the whole call is kept in {kept_in}]"
                          if isinstance(item, str) and len(item) > share else item for key, item in value.items()},
                         ensure_ascii=False)
    if len(bounded) > MAX_ARGUMENT_CHARS:  # long lists or objects, not strings
        return json.dumps({"arguments": f"{bounded[:share]} [... {len(arguments):,} characters in all, kept in {kept_in}]"})
    return bounded
