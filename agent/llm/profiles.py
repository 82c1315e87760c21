"""Provider profiles: how each OpenAI-compatible server switches reasoning and carries it back.

One class per provider, chosen by name from `PROFILES` (SPEC §3 is the contract). Every
provider-specific request key goes through the SDK's `extra_body`; the assistant message a
profile builds is deterministic (same completion, byte-identical JSON) because the executor
relies on prefix-cache hits.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.llm.types import Completion, Message, Provider, ToolCall


class Profile:
    """The generic OpenAI-compatible behaviour; subclasses override what their provider needs."""

    name: ClassVar[Provider] = "openai"
    # Delta/message fields that carry reasoning, in order of preference.
    reasoning_fields: ClassVar[tuple[str, ...]] = ()
    # Field of the assistant message that carries reasoning back, if any.
    send_back_field: ClassVar[str | None] = None
    # Delta/message fields kept verbatim in Completion.extras (OpenRouter's reasoning_details).
    extras_fields: ClassVar[tuple[str, ...]] = ()
    # Whether the server accepts `stream_options: {include_usage: true}`.
    stream_usage: ClassVar[bool] = True
    # Environment variables a user sets for this provider's key, for error messages.
    key_env: ClassVar[tuple[str, ...]] = ("AGENT_API_KEY", "OPENAI_API_KEY")

    def extra_body(self, *, reasoning: bool, preserve: bool) -> dict[str, Any]:
        """Provider keys for a request with reasoning on/off and earlier thinking kept or not."""
        return {}

    def reasoning_off_fallback(self, extra_body: dict[str, Any]) -> dict[str, Any] | None:
        """A second way to switch reasoning off when the server refuses the first; None if none."""
        return None

    def assistant_message(self, completion: Completion) -> Message:
        """The history entry for `completion`, with a stable key order."""
        message: Message = {"role": "assistant", "content": completion.content}
        message.update(self._reasoning_part(completion))
        if completion.tool_calls:
            message["tool_calls"] = [tool_call_message(call) for call in completion.tool_calls]
        return message

    def _reasoning_part(self, completion: Completion) -> dict[str, Any]:
        if self.send_back_field and completion.reasoning:
            return {self.send_back_field: completion.reasoning}
        return {}


class CerebrasProfile(Profile):
    name: ClassVar[Provider] = "cerebras"
    reasoning_fields = ("reasoning",)
    send_back_field = "reasoning"
    key_env = ("CEREBRAS_API_KEY",)

    def extra_body(self, *, reasoning: bool, preserve: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if not reasoning:
            body["disable_reasoning"] = True
        if preserve:
            body["clear_thinking"] = False
        return body

    def reasoning_off_fallback(self, extra_body: dict[str, Any]) -> dict[str, Any] | None:
        if "disable_reasoning" not in extra_body:
            return None
        body = {k: v for k, v in extra_body.items() if k != "disable_reasoning"}
        return {"reasoning_effort": "none", **body}


class ZaiProfile(Profile):
    name: ClassVar[Provider] = "zai"
    reasoning_fields = ("reasoning_content",)
    send_back_field = "reasoning_content"
    # Z.ai sends usage in the last chunk by itself; its API documents no stream_options.
    stream_usage = False
    key_env = ("AGENT_API_KEY", "ZAI_API_KEY", "OPENAI_API_KEY")

    def extra_body(self, *, reasoning: bool, preserve: bool) -> dict[str, Any]:
        if not reasoning:
            return {"thinking": {"type": "disabled"}}
        if preserve:
            return {"thinking": {"type": "enabled", "clear_thinking": False}}
        return {"thinking": {"type": "enabled"}}


class VllmProfile(Profile):
    name: ClassVar[Provider] = "vllm"
    reasoning_fields = ("reasoning", "reasoning_content")
    send_back_field = "reasoning_content"

    def extra_body(self, *, reasoning: bool, preserve: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if not reasoning:
            kwargs["enable_thinking"] = False
        if preserve:
            kwargs["clear_thinking"] = False
        return {"chat_template_kwargs": kwargs} if kwargs else {}


class OpenRouterProfile(Profile):
    name: ClassVar[Provider] = "openrouter"
    reasoning_fields = ("reasoning",)
    extras_fields = ("reasoning_details",)
    key_env = ("AGENT_API_KEY", "OPENROUTER_API_KEY", "OPENAI_API_KEY")

    def extra_body(self, *, reasoning: bool, preserve: bool) -> dict[str, Any]:
        # Preserving is done by sending reasoning_details back, not by a request key.
        return {} if reasoning else {"reasoning": {"enabled": False}}

    def _reasoning_part(self, completion: Completion) -> dict[str, Any]:
        details = completion.extras.get("reasoning_details")
        return {"reasoning_details": details} if details else {}


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
