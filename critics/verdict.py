"""A critic's answer: the verdict JSON of SPEC §5, parsed tolerantly.

The gate and `agent review` read verdicts here and nowhere else.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Finding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    # What the finding rests on: code quoted from `file` at `line`, or lines of the test output.
    evidence: str | None = None
    suggestion: str | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    verdict: Literal["approve", "request_changes"]
    findings: list[Finding] = Field(default_factory=list)

    @property
    def approved(self) -> bool:
        return self.verdict == "approve"

    def blocking(self) -> list[Finding]:
        """Findings that stop a step: medium and above."""
        return [f for f in self.findings if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["medium"]]


def parse_verdict(text: str) -> Verdict:
    """The verdict a critic gave; ValueError with a reason the critic can act on.

    A critic may quote the verdict format or an example before giving its own, so the verdict is
    the last well-formed verdict object in the answer, never the first JSON-looking text. An
    answer that asks for changes anywhere is never read as approving: when its last verdict
    approves but an earlier one asked for changes, the answer is refused as ambiguous (the gate
    and the review then fail closed). An "approve" that carries blocking findings is read as
    "request_changes": the findings are the critic's real judgement, and its rules say so.
    """
    objects = json_objects(text)
    verdicts = [v for v in map(_as_verdict, objects) if v is not None]
    if not verdicts:
        raise ValueError(_why_no_verdict(text, objects))
    verdicts = [_strict(v) for v in verdicts]
    last = verdicts[-1]
    if last.approved and any(not v.approved for v in verdicts):
        raise ValueError("the answer holds conflicting verdicts (approve and request_changes); give exactly one")
    return last


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON object in `text`, in order: bare, fenced or embedded in prose.

    An object inside another one is part of it, not an object of its own.
    """
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = 0
    while (start := text.find("{", position)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
        position = end
    return found


def _as_verdict(data: dict[str, Any]) -> Verdict | None:
    try:
        return Verdict.model_validate(data)
    except ValidationError:
        return None


def _strict(verdict: Verdict) -> Verdict:
    if verdict.approved and verdict.blocking():
        return verdict.model_copy(update={"verdict": "request_changes"})
    return verdict


def _why_no_verdict(text: str, objects: list[dict[str, Any]]) -> str:
    """Why an answer holds no verdict: empty, no JSON object, or the last object's first problem."""
    if not text.strip():
        return "the answer was empty"
    if not objects:
        return "no JSON object found in the answer"
    try:
        Verdict.model_validate(objects[-1])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        return f"{where}: {first['msg']}"
    return "no verdict found in the answer"
