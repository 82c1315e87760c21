"""Recover what GLM's chat template leaks into `content` when a server fails to parse it.

Pure functions on strings: raw `<tool_call>` text becomes tool calls, a leading inline
`<think>…</think>` becomes reasoning, and stray template tokens are removed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agent.llm.types import ToolCall

_TOOL_CALL = re.compile(r"<tool_call>(?P<body>.*?)(?:</tool_call>|\Z)", re.DOTALL)
_ARG = re.compile(r"<arg_key>(?P<key>.*?)</arg_key>\s*<arg_value>(?P<value>.*?)</arg_value>", re.DOTALL)
_TEMPLATE_TOKENS = re.compile(r"<\|observation\|>|</?tool_response>|<think>\s*</think>|/nothink")
_LEADING_THINK = re.compile(r"\A\s*<think>(?P<reasoning>.*?)</think>", re.DOTALL)
_CLOSING_THINK = re.compile(r"\A(?P<reasoning>(?:(?!<think>).)*?)</think>", re.DOTALL)


@dataclass(frozen=True)
class Cleaned:
    content: str
    reasoning: str | None
    tool_calls: list[ToolCall]


def recover_tool_calls(content: str, id_prefix: str = "call_leaked_") -> tuple[str, list[ToolCall]]:
    """Leaked `<tool_call>` blocks as tool calls, and the content with them removed."""
    calls: list[ToolCall] = []
    for match in _TOOL_CALL.finditer(content):
        call = _parse_tool_call(match.group("body"), f"{id_prefix}{len(calls)}")
        if call is not None:
            calls.append(call)
    if not calls:
        return content, []
    return _TOOL_CALL.sub("", content).strip(), calls


def _parse_tool_call(body: str, call_id: str) -> ToolCall | None:
    name, _, rest = body.partition("<")
    name = name.strip()
    if not name:
        return None
    arguments = {m.group("key").strip(): _argument_value(m.group("value")) for m in _ARG.finditer("<" + rest)}
    return ToolCall(id=call_id, name=name, arguments=json.dumps(arguments, ensure_ascii=False))


def _argument_value(raw: str) -> Any:
    """String arguments are raw text; anything else (numbers, lists, bools) is JSON when it parses."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return raw if isinstance(value, str) else value


def strip_template_tokens(content: str) -> str:
    """`content` without stray chat-template tokens (`<|observation|>`, `/nothink`, …)."""
    stripped = _TEMPLATE_TOKENS.sub("", content)
    return stripped.strip() if stripped != content else content


def split_inline_think(content: str) -> tuple[str | None, str]:
    """(reasoning, rest) when content starts with `<think>…</think>` or ends its reasoning with a bare `</think>`."""
    match = _LEADING_THINK.match(content) or _CLOSING_THINK.match(content)
    if match is None:
        return None, content
    reasoning = match.group("reasoning").strip()
    return (reasoning or None), content[match.end():].lstrip()


def clean(content: str, reasoning: str | None, tool_calls: list[ToolCall]) -> Cleaned:
    """Apply every recovery to a finished message; parsed tool calls from the server win over leaked ones."""
    if not reasoning and ("<think>" in content or "</think>" in content):
        inline, content = split_inline_think(content)
        reasoning = inline or reasoning
    if not tool_calls and "<tool_call>" in content:
        content, tool_calls = recover_tool_calls(content)
    return Cleaned(content=strip_template_tokens(content), reasoning=reasoning, tool_calls=tool_calls)
