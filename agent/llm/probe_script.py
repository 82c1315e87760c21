"""The scripted model behind `agent probe --scripted`: a responder that answers every check correctly."""

from __future__ import annotations

import json
import re
from typing import Any

from agent.llm.probe import NEEDLE_PREFIX, TOOL_NAME
from agent.testing import ToolCallSpec, Turn

_NEEDLE = re.compile(re.escape(NEEDLE_PREFIX) + r"\d+")
_CODE = re.compile(r"\d{6}")
REASONING_FIELD = {"zai": "reasoning_content", "vllm": "reasoning_content"}


def probe_responder(body: dict[str, Any], role: str, provider: str = "cerebras") -> Turn:
    """The right answer to whichever probe check `body` is."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    text = str(last.get("content") or "")
    field = REASONING_FIELD.get(provider, "reasoning")
    if body.get("response_format"):
        return Turn(content=json.dumps({"name": "Paris", "country": "France", "population_millions": 2.1}))
    if last.get("role") == "tool":
        code = _CODE.search(text)
        return Turn(content=code.group(0) if code else "no code")
    if body.get("tools"):
        return Turn(tool_calls=[ToolCallSpec(name=TOOL_NAME, arguments={"name": "probe"})])
    needle = _NEEDLE.search(text)
    if needle:
        return Turn(content=needle.group(0))
    if reasoning_off(body):
        return Turn(content="391")
    answer = "400" if len(messages) > 2 else "391"
    return Turn(reasoning="17 times 23: 17*20 is 340, 17*3 is 51, 340+51 is 391.", content=answer,
                reasoning_field=field)  # type: ignore[arg-type]


def reasoning_off(body: dict[str, Any]) -> bool:
    """Whether the request switched reasoning off, in any provider's dialect."""
    thinking = body.get("thinking") or {}
    template = body.get("chat_template_kwargs") or {}
    reasoning = body.get("reasoning") or {}
    return bool(body.get("disable_reasoning") or body.get("reasoning_effort") == "none"
                or thinking.get("type") == "disabled" or template.get("enable_thinking") is False
                or (isinstance(reasoning, dict) and reasoning.get("enabled") is False))
