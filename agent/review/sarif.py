"""SARIF 2.1.0 for code-scanning upload: one rule per critic and severity, one result per finding."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from agent.review.model import ReviewFinding, ReviewResult

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/glm-agent/glm-agent"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.0", "low": "2.0"}


def _version() -> str:
    try:
        return version("glm-agent")
    except PackageNotFoundError:
        return "0.0.0"


def rule_id(finding: ReviewFinding) -> str:
    return f"{finding.critics[0]}/{finding.severity}"


def _rule(rid: str) -> dict[str, Any]:
    critic, severity = rid.split("/", 1)
    rule: dict[str, Any] = {
        "id": rid,
        "name": f"{critic.title().replace('-', '').replace('_', '')}{severity.title()}",
        "shortDescription": {"text": f"{severity} finding of the {critic} critic"},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {"tags": ["glm-agent", critic]},
    }
    if critic == "security":
        rule["properties"]["security-severity"] = SECURITY_SEVERITY[severity]
    return rule


def _result(finding: ReviewFinding, index: int) -> dict[str, Any]:
    text = finding.message + (f"\nSuggestion: {finding.suggestion}" if finding.suggestion else "")
    location: dict[str, Any] = {"artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"}}
    location["region"] = {"startLine": finding.line or 1}
    if finding.evidence:
        location["region"]["snippet"] = {"text": finding.evidence}
    return {
        "ruleId": rule_id(finding), "ruleIndex": index, "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {"glmAgentFinding/v1": finding.fingerprint()},
        "properties": {"critics": finding.critics, "severity": finding.severity},
    }


def _notifications(result: ReviewResult) -> list[dict[str, Any]]:
    """Findings about the change as a whole, and files not reviewed: SARIF results need a location."""
    notes = [{"level": LEVELS[f.severity], "message": {"text": f"[{f.critic}, {f.severity}] {f.message}"}}
             for f in result.findings if f.path is None]
    notes += [{"level": "warning", "message": {"text": f"not reviewed: {s.path} ({s.reason})"}}
              for s in result.skipped_files]
    return notes


def to_sarif(result: ReviewResult) -> dict[str, Any]:
    """The SARIF log object."""
    located = [f for f in result.findings if f.path is not None]
    ids = list(dict.fromkeys(rule_id(f) for f in located))
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "glm-agent", "version": _version(), "informationUri": INFORMATION_URI,
                            "rules": [_rule(rid) for rid in ids]}},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": _notifications(result)}],
        "results": [_result(f, ids.index(rule_id(f))) for f in located],
        "properties": {"base": result.base, "head": result.head, "summary": result.summary},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render_sarif(result: ReviewResult) -> str:
    return json.dumps(to_sarif(result), indent=2, ensure_ascii=False) + "\n"
