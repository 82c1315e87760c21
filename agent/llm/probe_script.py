"""The scripted model behind `agent probe --scripted`: a responder that answers every check correctly.

It reads the model view (what GLM 4.7 would be prompted with), so the preserved-thinking check
passes only when the earlier reasoning really reaches the prompt.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.llm.probe import CODE_WORD_PREFIX, NEEDLE_PREFIX, TOOL_NAME
from agent.testing import ToolCallSpec, Turn

_NEEDLE = re.compile(re.escape(NEEDLE_PREFIX) + r"\d+")
_CODE_WORD = re.compile(r"<think>[^<]*?(" + re.escape(CODE_WORD_PREFIX) + r"\d+)")
_CODE = re.compile(r"\d{6}")


def probe_responder(view: str, body: dict[str, Any]) -> Turn:
    """The right answer to whichever probe check `body` is, from what the model would see (`view`)."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    text = str(last.get("content") or "")
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
    if len(messages) > 2:  # the recall question: answerable only from reasoning the prompt still shows
        words = _CODE_WORD.findall(view)
        return Turn(reasoning="My earlier thinking named a code word.", content=words[-1] if words else "unknown")
    return Turn(reasoning="17 times 23: 17*20 is 340, 17*3 is 51, 340+51 is 391.", content="391")
