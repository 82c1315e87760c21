"""The review's result, as pydantic models: the JSON output of SPEC §7 and what every format renders."""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from critics.verdict import SEVERITY_RANK, Severity

SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
VerdictName = Literal["approve", "request_changes", "error", "skipped"]


def at_or_above(severity: str, threshold: str) -> bool:
    """True when `severity` ranks at or above `threshold`."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


def parse_severity(value: str) -> Severity:
    """A severity name from the command line; ValueError naming the choices otherwise."""
    key = value.strip().lower()
    if key not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {value!r}: expected one of {', '.join(SEVERITIES)}")
    return key  # type: ignore[return-value]


class ReviewFinding(BaseModel):
    """One finding; `critic` lists every critic that made it ("reviewer, security") after merging."""

    model_config = ConfigDict(extra="forbid")

    critic: str
    severity: Severity
    path: str | None
    line: int | None
    message: str
    suggestion: str | None
    evidence: str | None = None  # the code or test output the finding rests on

    @property
    def critics(self) -> list[str]:
        return [name.strip() for name in self.critic.split(",") if name.strip()]

    def fingerprint(self) -> str:
        """A stable id for "already posted": critic, path, line and the message's words."""
        words = re.sub(r"\W+", " ", self.message.lower()).strip()
        raw = f"{self.critic}|{self.path}|{self.line}|{words}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


class UnsupportedFinding(BaseModel):
    """A blocking finding dropped because the head tree does not hold its file, line or quoted code."""

    model_config = ConfigDict(extra="forbid")

    critic: str
    severity: Severity
    path: str | None
    line: int | None
    message: str
    evidence: str | None
    reason: str


class CriticSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: VerdictName
    findings: int
    parts: int


class SkippedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    reason: str


class ReviewResult(BaseModel):
    """SPEC §7's JSON: base, head, findings, verdicts, summary, skipped_files; and the findings dropped as unsupported."""

    model_config = ConfigDict(extra="forbid")

    base: str
    head: str
    findings: list[ReviewFinding] = Field(default_factory=list)
    verdicts: dict[str, CriticSummary] = Field(default_factory=dict)
    summary: str = ""
    skipped_files: list[SkippedFile] = Field(default_factory=list)
    unsupported_findings: list[UnsupportedFinding] = Field(default_factory=list)

    def worst(self) -> Severity | None:
        """The highest severity among the findings, or None without findings."""
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=SEVERITY_RANK.__getitem__)

    def fails(self, threshold: str) -> bool:
        """True when some finding is at or above `threshold`."""
        return any(at_or_above(f.severity, threshold) for f in self.findings)
