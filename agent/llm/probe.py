"""GLM 4.7's validation checklist, run against an endpoint through the model client.

Each check makes one or two real calls and returns a CheckResult; a ModelAPIError fails the
check it happened in (an AuthError, which a user must fix, propagates).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.errors import ModelAPIError
from agent.jsonparse import strict_json_format
from agent.llm.client import LLMClient
from agent.llm.types import ChatRequest, Completion, Message, StreamCallbacks
from agent.prompting import load_prompt, render_prompt

Outcome = Literal["pass", "fail", "skip"]
TOOL_NAME = "lookup_code"
NEEDLE_PREFIX = "NEEDLE-"
PROBE_BUDGET = 4096
CHARS_PER_TOKEN = 4  # a rough average for English prose, to size the long-context prompt


@dataclass
class CheckResult:
    name: str
    outcome: Outcome
    detail: str
    first_token_s: float | None = None
    tokens_per_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.outcome != "fail"


class ProbeCity(BaseModel):
    """The structured-output check's schema (strict: every field required, nothing else allowed)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    country: str
    population_millions: float


@dataclass
class Probe:
    """The checks, in the order they run; later checks reuse the first answer with reasoning."""

    client: LLMClient
    role: str = "executor"
    long_context: int = 0
    rng: random.Random = field(default_factory=random.Random)
    _reasoned: tuple[list[Message], Completion] | None = None
    _deltas: list[str] = field(default_factory=list)

    def run(self) -> list[CheckResult]:
        checks: list[tuple[str, Callable[[], CheckResult]]] = [
            ("reasoning on", self.reasoning_on), ("streamed reasoning", self.streamed_reasoning),
            ("reasoning off", self.reasoning_off), ("tool call round trip", self.tool_round_trip),
            ("preserved thinking", self.preserved_thinking), ("structured output", self.structured_output),
            ("long context", self.long_context_check),
        ]
        return [_guarded(name, check) for name, check in checks]

    # -- calls --------------------------------------------------------------------------------

    def _ask(self, messages: list[Message], callbacks: StreamCallbacks | None = None, **options: Any) -> Completion:
        request = ChatRequest(role=self.role, messages=messages, step="probe",
                              max_completion_tokens=options.pop("max_completion_tokens", PROBE_BUDGET), **options)
        return self.client.complete(request, callbacks)

    def _question(self) -> list[Message]:
        return [system(), user(load_prompt("probe_reasoning"))]

    # -- checks -------------------------------------------------------------------------------

    def reasoning_on(self) -> CheckResult:
        deltas: list[str] = []
        messages = self._question()
        completion = self._ask(messages, StreamCallbacks(on_reasoning=deltas.append), reasoning=True)
        self._reasoned, self._deltas = (messages, completion), deltas
        if not completion.reasoning:
            return result("reasoning on", False, "no reasoning came back with reasoning on", completion)
        return result("reasoning on", True, f"{len(completion.reasoning)} chars of reasoning", completion)

    def streamed_reasoning(self) -> CheckResult:
        deltas = self._deltas
        fields = " or ".join(f"delta.{name}" for name in self.client.profile(self.role).reasoning_fields)
        if not fields:
            return CheckResult("streamed reasoning", "skip", "this provider profile reads no reasoning field")
        if not deltas:
            return CheckResult("streamed reasoning", "fail", f"no reasoning arrived in {fields}")
        return CheckResult("streamed reasoning", "pass", f"{len(deltas)} deltas in {fields}")

    def reasoning_off(self) -> CheckResult:
        completion = self._ask(self._question(), reasoning=False)
        if completion.reasoning:
            return result("reasoning off", False, f"{len(completion.reasoning)} chars of reasoning despite "
                          "reasoning off", completion)
        return result("reasoning off", True, f"no reasoning; answered {_short(completion.content)}", completion)

    def tool_round_trip(self) -> CheckResult:
        name, code = "tool call round trip", str(self.rng.randint(100_000, 999_999))
        messages = [system(), user(load_prompt("probe_tool"))]
        first = self._ask(messages, tools=[lookup_tool()])
        calls = [call for call in first.tool_calls if call.name == TOOL_NAME]
        if not calls:
            return result(name, False, f"no {TOOL_NAME} call; answered {_short(first.content)}", first)
        messages += [self.client.assistant_message(self.role, first),
                     {"role": "tool", "tool_call_id": calls[0].id, "content": render_prompt("probe_tool_result", code=code)}]
        second = self._ask(messages, tools=[lookup_tool()], preserve_thinking=True)
        if code not in second.content:
            return result(name, False, f"the answer did not use the tool result: {_short(second.content)}", second)
        return result(name, True, f"called {TOOL_NAME}({calls[0].arguments}) and used its result", second)

    def preserved_thinking(self) -> CheckResult:
        name = "preserved thinking"
        if self._reasoned is None or not self._reasoned[1].reasoning:
            return CheckResult(name, "fail", "no earlier reasoning to send back (see reasoning on)")
        messages, earlier = self._reasoned
        history = [*messages, self.client.assistant_message(self.role, earlier), user(load_prompt("probe_followup"))]
        completion = self._ask(history, reasoning=True, preserve_thinking=True)
        if not completion.content.strip():
            return result(name, False, "the second turn came back empty", completion)
        return result(name, True, f"second turn with {len(earlier.reasoning or '')} chars of reasoning sent back "
                      f"accepted; answered {_short(completion.content)}", completion)

    def structured_output(self) -> CheckResult:
        name = "structured output"
        response_format = strict_json_format("probe_city", ProbeCity.model_json_schema())
        completion = self._ask([system(), user(load_prompt("probe_json"))], response_format=response_format)
        try:
            city = ProbeCity.model_validate(json.loads(completion.content))
        except (ValueError, ValidationError) as exc:
            return result(name, False, f"not valid for the schema: {_short(str(exc))}", completion)
        return result(name, True, f"valid JSON: {city.name}, {city.country}", completion)

    def long_context_check(self) -> CheckResult:
        name = "long context"
        if self.long_context <= 0:
            return CheckResult(name, "skip", "skipped (--long-context 0)")
        needle = f"{NEEDLE_PREFIX}{self.rng.randint(100_000, 999_999)}"
        prompt = render_prompt("probe_long_context", document=long_document(self.long_context, needle))
        completion = self._ask([system(), user(prompt)], reasoning=False, max_completion_tokens=256)
        tokens = completion.usage.prompt_tokens
        if needle not in completion.content:
            return result(name, False, f"{tokens} prompt tokens; pass phrase not found in the answer "
                          f"{_short(completion.content)}", completion)
        return result(name, True, f"{tokens} prompt tokens; pass phrase recalled", completion)


def _guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except ModelAPIError as exc:
        return CheckResult(name, "fail", f"{type(exc).__name__}: {exc}")


def result(name: str, passed: bool, detail: str, completion: Completion) -> CheckResult:
    """A check's row, with time to first token and output speed from the completion's usage."""
    usage = completion.usage
    generating = usage.seconds - usage.first_token_seconds
    speed = usage.completion_tokens / generating if usage.completion_tokens and generating > 0 else None
    return CheckResult(name, "pass" if passed else "fail", detail, usage.first_token_seconds, speed)


def long_document(tokens: int, needle: str) -> str:
    """About `tokens` tokens of filler with the needle line in the middle."""
    filler = load_prompt("probe_filler").strip()
    copies = max(1, tokens * CHARS_PER_TOKEN // (len(filler) + 1))
    half = copies // 2
    lines = [filler] * half + [render_prompt("probe_needle", needle=needle).strip()] + [filler] * (copies - half)
    return "\n".join(lines)


def lookup_tool() -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": TOOL_NAME, "description": load_prompt("probe_tool_description").strip(),
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}},
                       "required": ["name"], "additionalProperties": False}}}


def system() -> Message:
    return {"role": "system", "content": load_prompt("probe_system").strip()}


def user(text: str) -> Message:
    return {"role": "user", "content": text.strip()}


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
