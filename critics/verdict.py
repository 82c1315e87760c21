"""A critic's answer: the verdict JSON of SPEC §5, parsed tolerantly."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.jsonparse import parse_answer

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Finding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
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
    """The verdict in a critic's answer; ValueError with a reason the critic can act on.

    An "approve" that carries blocking findings is read as "request_changes": the findings are
    the critic's real judgement, and the rules it was given say so.
    """
    verdict = parse_answer(text, Verdict)
    if verdict.approved and verdict.blocking():
        verdict = verdict.model_copy(update={"verdict": "request_changes"})
    return verdict


def verdict_json_schema() -> dict[str, Any]:
    """The strict JSON schema for `response_format` (every property required, no unions by type list)."""
    nullable = lambda t: {"anyOf": [{"type": t}, {"type": "null"}]}  # noqa: E731
    finding = {
        "type": "object",
        "properties": {
            "severity": {"type": "string", "enum": list(SEVERITY_RANK)},
            "message": {"type": "string"},
            "file": nullable("string"),
            "line": nullable("integer"),
            "suggestion": nullable("string"),
        },
        "required": ["severity", "message", "file", "line", "suggestion"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["approve", "request_changes"]},
            "findings": {"type": "array", "items": finding},
        },
        "required": ["verdict", "findings"],
        "additionalProperties": False,
    }
