"""What the model is prompted with: a chat request rendered by GLM 4.7's chat template rules.

The scripted server derives this text for every request, so tests can see what the model would
have seen, not just what was sent. It follows GLM 4.7's published chat template (tests render the
real template with jinja2 and compare), plus what each provider does before the template runs:
which message field it passes on as earlier reasoning (its carrier) and which request keys set
`clear_thinking` and `enable_thinking`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

ServerProvider = Literal["cerebras", "zai", "vllm", "openrouter"]
TOOLS_HEADER = (
    "<|system|>\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
TOOLS_FOOTER = (
    "</tools>\n\nFor each function call, output the function name and arguments within the following XML "
    "format:\n<tool_call>{function-name}<arg_key>{arg-key-1}</arg_key><arg_value>{arg-value-1}</arg_value>"
    "<arg_key>{arg-key-2}</arg_key><arg_value>{arg-value-2}</arg_value>...</tool_call>"
)


def template_messages(body: dict[str, Any], provider: ServerProvider) -> list[dict[str, Any]]:
    """The messages as the provider hands them to the template: only its carrier holds earlier reasoning.

    Cerebras reads reasoning only as `<think>…</think>` in content (a `reasoning` or
    `reasoning_content` field is accepted and dropped); Z.ai and vLLM pass `reasoning_content` on;
    OpenRouter turns `reasoning_details` into the upstream's `reasoning_content`.
    """
    messages = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        kept = {k: v for k, v in message.items() if k not in ("reasoning", "reasoning_content", "reasoning_details")}
        if provider in ("zai", "vllm") and "reasoning_content" in message:
            kept["reasoning_content"] = message["reasoning_content"]
        if provider == "openrouter" and message.get("reasoning_details"):
            kept["reasoning_content"] = _details_text(message["reasoning_details"])
        messages.append(kept)
    return messages


def template_switches(body: dict[str, Any], provider: ServerProvider,
                      ignored: frozenset[str] = frozenset()) -> dict[str, bool]:
    """`clear_thinking` / `enable_thinking` as the template receives them (absent when not set)."""
    switches: dict[str, bool] = {}
    if provider == "cerebras":
        if "clear_thinking" in body and "clear_thinking" not in ignored:
            switches["clear_thinking"] = bool(body["clear_thinking"])
        off = (("reasoning_effort" not in ignored and body.get("reasoning_effort") == "none")
               or ("disable_reasoning" not in ignored and body.get("disable_reasoning") is True))
    elif provider == "zai":
        thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) and "thinking" not in ignored else {}
        if "clear_thinking" in thinking:
            switches["clear_thinking"] = bool(thinking["clear_thinking"])
        off = thinking.get("type") == "disabled"
    elif provider == "vllm":
        kwargs = body.get("chat_template_kwargs")
        kwargs = kwargs if isinstance(kwargs, dict) and "chat_template_kwargs" not in ignored else {}
        switches |= {k: bool(kwargs[k]) for k in ("clear_thinking", "enable_thinking") if k in kwargs}
        off = kwargs.get("enable_thinking") is False
    else:
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
        off = "reasoning" not in ignored and reasoning.get("enabled") is False
    if off:
        switches["enable_thinking"] = False
    return switches


def model_view(body: dict[str, Any], provider: ServerProvider = "cerebras",
               ignored: frozenset[str] = frozenset()) -> str:
    """The prompt text GLM 4.7 would be given for this request (add_generation_prompt on)."""
    messages = template_messages(body, provider)
    switches = template_switches(body, provider, ignored)
    return render(messages, body.get("tools") or [], switches)


GENERATION_PROMPTS = ("<|assistant|><think>", "<|assistant|></think>")  # reasoning on / switched off


def extends(earlier: str, later: str) -> bool:
    """Whether the model view `later` starts with `earlier` bar its generation prompt: the history
    the model saw last time is unchanged byte for byte (so the prefix cache hits), whether reasoning
    was on or off for either request."""
    for prompt in GENERATION_PROMPTS:
        if earlier.endswith(prompt):
            earlier = earlier.removesuffix(prompt)
            break
    return later.startswith(earlier)


def render(messages: list[dict[str, Any]], tools: list[Any], switches: dict[str, bool]) -> str:
    """GLM 4.7's chat template, in Python."""
    out = ["[gMASK]<sop>"]
    if tools:
        out.append(TOOLS_HEADER + "".join(_tojson(tool) + "\n" for tool in tools) + TOOLS_FOOTER)
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    keep_all = switches.get("clear_thinking") is False
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "user":
            out.append("<|user|>" + _visible(message.get("content")))
        elif role == "assistant":
            out.append(_assistant(message, keep_all or index > last_user))
        elif role == "tool":
            out.append(_tool(message, index == 0 or messages[index - 1].get("role") != "tool"))
        elif role == "system":
            out.append("<|system|>" + _visible(message.get("content")))
    out.append(GENERATION_PROMPTS[1] if switches.get("enable_thinking") is False else GENERATION_PROMPTS[0])
    return "".join(out)


def _assistant(message: dict[str, Any], keep_thinking: bool) -> str:
    content = _visible(message.get("content"))
    reasoning = ""
    if isinstance(message.get("reasoning_content"), str):
        reasoning = message["reasoning_content"]
    elif "</think>" in content:
        reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
        content = content.split("</think>")[-1].lstrip("\n")
    text = "<|assistant|>"
    text += f"<think>{reasoning.strip()}</think>" if keep_thinking and reasoning else "</think>"
    text += content.strip()
    for call in message.get("tool_calls") or []:
        function = call.get("function") or call
        text += "<tool_call>" + str(function.get("name")) + "".join(
            f"<arg_key>{key}</arg_key><arg_value>{value if isinstance(value, str) else _tojson(value)}</arg_value>"
            for key, value in _arguments(function.get("arguments")).items()) + "</tool_call>"
    return text


def _tool(message: dict[str, Any], first: bool) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return ("<|observation|>" if first else "") + f"<tool_response>{content}</tool_response>"
    parts = content if isinstance(content, list) else []
    return "<|observation|>" + "".join(
        f"<tool_response>{part['output'] if isinstance(part, dict) and 'output' in part else part}</tool_response>"
        for part in parts)


def _visible(content: Any) -> str:
    """The template's visible_text(): a string, the text parts of a list, else the value as text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(item.get("text", "") if isinstance(item, dict) and item.get("type") == "text"
                       else item if isinstance(item, str) else "" for item in content)
    return "None" if content is None else str(content)


def _arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as the mapping servers parse them into before the template runs."""
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _details_text(details: Any) -> str:
    items = details if isinstance(details, list) else [details]
    return "".join(str(item.get("text") or item.get("summary") or "") for item in items if isinstance(item, dict))


def _tojson(value: Any) -> str:
    """The `tojson` filter Hugging Face and vLLM give the template."""
    return json.dumps(value, ensure_ascii=False)
