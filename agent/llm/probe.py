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
from agent.llm.profiles import describe_carrier
from agent.llm.types import Carrier, ChatRequest, Completion, Message, StreamCallbacks, Usage
from agent.prompting import load_prompt, render_prompt

Outcome = Literal["pass", "fail", "skip"]
TOOL_NAME = "lookup_code"
NEEDLE_PREFIX = "NEEDLE-"
CODE_WORD_PREFIX = "CODEWORD-"
# Carriers a preserved-thinking check tries after the profile's own, to say which one works.
TRIED_CARRIERS: tuple[Carrier, ...] = ("think_in_content", "reasoning_content")
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
    def failed(self) -> bool:
        return self.outcome == "fail"


class ProbeCity(BaseModel):
    """The structured-output check's schema (strict: every field required, nothing else allowed)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    country: str
    population_millions: float


@dataclass
class Probe:
    """The checks, in the order they run; the streamed-reasoning check reads the first one's deltas."""

    client: LLMClient
    role: str = "executor"
    long_context: int = 0
    rng: random.Random = field(default_factory=random.Random)
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
        self._deltas = deltas
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
        """Passes only when an answer comes back without reasoning; tries the profile's switches in order."""
        name, ignored = "reasoning off", []
        switch = self.client.off_switch(self.role)
        if switch is None:
            return CheckResult(name, "skip", "this provider profile has no way to switch reasoning off")
        while True:
            completion = self._ask(self._question(), reasoning=False)
            if not (completion.reasoning or completion.usage.reasoning_tokens):
                before = f"; ignored: {', '.join(ignored)}" if ignored else ""
                return result(name, True, f"no reasoning with {_keys(switch)}{before}; answered "
                              f"{_short(completion.content)}", completion)
            ignored.append(_keys(switch))
            following = self.client.off_switch(self.role)  # the client moved on to the next switch, if any
            if following is None or following == switch:
                return result(name, False, f"reasoning came back despite {', '.join(ignored)}", completion)
            switch = following

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
        """Passes only if the model repeats a code word that exists only in its earlier turn's reasoning."""
        name, word = "preserved thinking", f"{CODE_WORD_PREFIX}{self.rng.randint(100_000, 999_999)}"
        own = self.client.carrier(self.role)
        if own == "none":
            return CheckResult(name, "skip", "this provider profile sends no reasoning back")
        for carrier in dict.fromkeys([own, *TRIED_CARRIERS]):
            completion = self._recall(word, carrier)
            if word not in completion.content:
                continue
            if carrier == own:
                return result(name, True, f"repeated a code word planted in its earlier reasoning, sent back as "
                              f"{describe_carrier(carrier)}", completion)
            return result(name, False, f"not seen as {describe_carrier(own)}, but seen as {describe_carrier(carrier)}: "
                          f'set reasoning_carrier = "{carrier}" for this role', completion)
        return result(name, False, f"did not repeat a code word planted in its earlier reasoning; answered "
                      f"{_short(completion.content)}", completion)

    def _recall(self, word: str, carrier: Carrier) -> Completion:
        """Ask for the code word that only an earlier assistant turn's reasoning holds, sent back by `carrier`."""
        thought = render_prompt("probe_plant_reasoning", word=word).strip()
        planted = Completion(content="Ready.", reasoning=thought, tool_calls=[], finish_reason="stop", usage=Usage(),
                             extras={"reasoning_details": [{"type": "reasoning.text", "text": thought}]})
        history = [system(), user(load_prompt("probe_plant")),
                   self.client.profile(self.role).assistant_message(planted, carrier), user(load_prompt("probe_recall"))]
        return self._ask(history, reasoning=True, preserve_thinking=True)

    def structured_output(self) -> CheckResult:
        name = "structured output"
        if not self.client.profile(self.role).strict_json_schema:
            return CheckResult(name, "skip", "this provider profile does not enforce strict JSON schemas")
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


def _keys(switch: dict[str, Any]) -> str:
    return ", ".join(switch)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
