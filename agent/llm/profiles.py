"""Provider profiles: what each OpenAI-compatible server can do, and how it switches and carries reasoning.

One class per provider, chosen by name from `PROFILES` (SPEC §3 is the contract). A provider's
capabilities live here and nowhere else: its default endpoint, its key variables, its token
limits and sampling defaults, whether it enforces strict JSON schemas, how reasoning is switched
off (in order of preference) and how earlier reasoning is sent back (its carrier). Every
provider-specific request key goes through the request body's extra keys; the assistant message
a profile builds is deterministic (same completion, byte-identical JSON) because the executor
relies on prefix-cache hits.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.llm.types import Carrier, Completion, Message, Provider, ToolCall

# GLM 4.7's limits (Cerebras' migration guide): what every profile allows unless its provider says less.
GLM_MAX_COMPLETION_TOKENS = 40_000
GLM_CONTEXT_TOKENS = 131_072
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 0.95
CARRIERS: tuple[Carrier, ...] = ("think_in_content", "reasoning_content", "reasoning_details", "none")
OffSwitch = dict[str, Any]


class Profile:
    """The generic OpenAI-compatible behaviour; subclasses override what their provider needs."""

    name: ClassVar[Provider] = "openai"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    # Environment variables holding this provider's key, first found wins. A provider's own variable
    # comes before OPENAI_API_KEY, so an OpenAI key is never sent to another company by accident.
    key_env: ClassVar[tuple[str, ...]] = ("AGENT_API_KEY", "OPENAI_API_KEY")
    max_completion_tokens: ClassVar[int] = GLM_MAX_COMPLETION_TOKENS
    context_tokens: ClassVar[int] = GLM_CONTEXT_TOKENS
    temperature: ClassVar[float] = DEFAULT_TEMPERATURE
    top_p: ClassVar[float] = DEFAULT_TOP_P
    # Whether `response_format: {type: json_schema, strict: true}` is enforced by the server.
    strict_json_schema: ClassVar[bool] = True
    # Delta/message fields that carry reasoning, in order of preference.
    reasoning_fields: ClassVar[tuple[str, ...]] = ()
    # How earlier reasoning goes back to the model in the assistant message.
    carrier: ClassVar[Carrier] = "none"
    # Delta/message fields kept verbatim in Completion.extras (OpenRouter's reasoning_details).
    extras_fields: ClassVar[tuple[str, ...]] = ()
    # Whether the server accepts `stream_options: {include_usage: true}`.
    stream_usage: ClassVar[bool] = True
    # Ways to switch reasoning off, the documented one first; the next is tried when one is
    # refused (400/422 naming it) or ignored (reasoning came back anyway).
    off_switches: ClassVar[tuple[OffSwitch, ...]] = ()

    def extra_body(self, *, reasoning: bool, preserve: bool, switch: int = 0) -> dict[str, Any]:
        """Provider keys for a request with reasoning on/off (off: the `switch`-th off-switch)."""
        body = self.preserve_body() if preserve else {}
        if reasoning or not self.off_switches:
            return body
        off = self.off_switches[min(switch, len(self.off_switches) - 1)]
        for key, value in off.items():  # vLLM's two switches share chat_template_kwargs
            both = isinstance(value, dict) and isinstance(body.get(key), dict)
            body[key] = {**body[key], **value} if both else value
        return body

    def preserve_body(self) -> dict[str, Any]:
        """The keys that keep earlier reasoning in the prompt (clear_thinking: false)."""
        return {}

    def switch_names(self, switch: int) -> tuple[str, ...]:
        """The request keys of off-switch number `switch` (to recognise an error naming them)."""
        return tuple(self.off_switches[switch]) if switch < len(self.off_switches) else ()

    def describe_off(self) -> str:
        """The off-switches as a user reads them: `reasoning_effort: "none", then disable_reasoning: true`."""
        shown = [", ".join(f"{k}: {_shown(v)}" for k, v in switch.items()) for switch in self.off_switches]
        return ", then ".join(shown) or "(none)"

    def assistant_message(self, completion: Completion, carrier: Carrier | None = None) -> Message:
        """The history entry for `completion`, reasoning sent back by `carrier` (default: the profile's)."""
        carrier = carrier or self.carrier
        content = completion.content
        if carrier == "think_in_content" and completion.reasoning:
            # Cerebras' reasoning guide: earlier reasoning goes back inside content, GLM's raw format.
            content = f"<think>{completion.reasoning}</think>{content}"
        message: Message = {"role": "assistant", "content": content}
        if carrier == "reasoning_content" and completion.reasoning:
            message["reasoning_content"] = completion.reasoning
        details = completion.extras.get("reasoning_details")
        if carrier == "reasoning_details" and details:
            message["reasoning_details"] = details
        if completion.tool_calls:
            message["tool_calls"] = [tool_call_message(call) for call in completion.tool_calls]
        return message


class CerebrasProfile(Profile):
    name: ClassVar[Provider] = "cerebras"
    default_base_url = "https://api.cerebras.ai/v1"
    key_env = ("CEREBRAS_API_KEY",)
    reasoning_fields = ("reasoning",)
    carrier: ClassVar[Carrier] = "think_in_content"
    # `reasoning_effort: "none"` is the documented switch for GLM; `disable_reasoning` the older one.
    off_switches = ({"reasoning_effort": "none"}, {"disable_reasoning": True})

    def preserve_body(self) -> dict[str, Any]:
        return {"clear_thinking": False}


class ZaiProfile(Profile):
    name: ClassVar[Provider] = "zai"
    default_base_url = "https://api.z.ai/api/paas/v4"
    key_env = ("AGENT_API_KEY", "ZAI_API_KEY", "OPENAI_API_KEY")
    strict_json_schema = False  # Z.ai documents json_object only
    reasoning_fields = ("reasoning_content",)
    carrier: ClassVar[Carrier] = "reasoning_content"
    # Z.ai sends usage in the last chunk by itself; its API documents no stream_options.
    stream_usage = False
    off_switches = ({"thinking": {"type": "disabled"}},)

    def extra_body(self, *, reasoning: bool, preserve: bool, switch: int = 0) -> dict[str, Any]:
        if not reasoning:
            # A turn without thinking keeps the earlier turns' thinking in the prompt: without
            # clear_thinking the template would drop it, and the prompt would no longer extend the last one.
            off = dict(self.off_switches[0]["thinking"])
            return {"thinking": {**off, "clear_thinking": False} if preserve else off}
        return self.preserve_body() if preserve else {"thinking": {"type": "enabled"}}

    def preserve_body(self) -> dict[str, Any]:
        return {"thinking": {"type": "enabled", "clear_thinking": False}}


class VllmProfile(Profile):
    name: ClassVar[Provider] = "vllm"
    default_base_url = "http://localhost:8000/v1"
    reasoning_fields = ("reasoning", "reasoning_content")
    carrier: ClassVar[Carrier] = "reasoning_content"  # the field GLM's chat template reads
    off_switches = ({"chat_template_kwargs": {"enable_thinking": False}},)

    def preserve_body(self) -> dict[str, Any]:
        return {"chat_template_kwargs": {"clear_thinking": False}}


class OpenRouterProfile(Profile):
    name: ClassVar[Provider] = "openrouter"
    default_base_url = "https://openrouter.ai/api/v1"
    key_env = ("AGENT_API_KEY", "OPENROUTER_API_KEY", "OPENAI_API_KEY")
    strict_json_schema = False  # not every upstream OpenRouter routes to enforces it
    reasoning_fields = ("reasoning",)
    carrier: ClassVar[Carrier] = "reasoning_details"
    extras_fields = ("reasoning_details",)
    off_switches = ({"reasoning": {"enabled": False}},)
    # Preserving is done by sending reasoning_details back, not by a request key.


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (CerebrasProfile(), ZaiProfile(), VllmProfile(), OpenRouterProfile(), Profile())
}
PROFILES["sglang"] = PROFILES["vllm"]


def profile_for(provider: str) -> Profile:
    """The profile registered under `provider`; KeyError names the known ones."""
    try:
        return PROFILES[provider]
    except KeyError:
        raise KeyError(f"unknown provider {provider!r}; known: {', '.join(sorted(PROFILES))}") from None


def tool_call_message(call: ToolCall) -> dict[str, Any]:
    """A tool call as it appears in an assistant message on the wire."""
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def describe_carrier(carrier: Carrier) -> str:
    """How a carrier sends reasoning back, as a user reads it."""
    return {"think_in_content": "<think>…</think> in content", "reasoning_content": "reasoning_content",
            "reasoning_details": "reasoning_details", "none": "(not sent back)"}[carrier]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    return str(value)

