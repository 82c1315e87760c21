"""Client-side estimate of a request's input tokens: about four characters a token."""

from __future__ import annotations

import json
from typing import Any

from agent.llm.types import Message


def estimate_tokens(messages: list[Message], tools: list[dict[str, Any]] | None = None) -> int:
    """Input tokens of a request's messages and tool schemas, estimated from their JSON."""
    text = json.dumps(messages, ensure_ascii=False, separators=(",", ":"))
    if tools:
        text += json.dumps(tools, ensure_ascii=False, separators=(",", ":"))
    return (len(text) + 3) // 4
