"""The review rendered for people (Markdown) and machines (JSON); SARIF and the GitHub payload live beside."""

from __future__ import annotations

import json
from typing import Literal, get_args

from agent.critic_tools import fence
from agent.review.model import SEVERITIES, ReviewFinding, ReviewResult

Format = Literal["markdown", "json", "sarif", "github"]
FORMATS: tuple[str, ...] = get_args(Format)
ICONS = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵"}
VERDICT_ICONS = {"approve": "✅", "request_changes": "❌", "error": "⚠️", "skipped": "⏭️"}
TITLE = "## glm-agent review"


def clean(text: str) -> str:
    """Model-written text made safe for a Markdown comment: no HTML comments (our markers), one paragraph."""
    return text.replace("<!--", "&lt;!--").replace("-->", "--&gt;").strip()


def where(finding: ReviewFinding) -> str:
    if finding.path is None:
        return "(whole change)"
    return f"`{finding.path}:{finding.line}`" if finding.line else f"`{finding.path}`"


def finding_item(finding: ReviewFinding, *, with_place: bool = True) -> str:
    """One finding as a Markdown list item (or comment body without the list marker when not with_place)."""
    head = f"{ICONS[finding.severity]} **{finding.severity}**"
    place = f" {where(finding)}" if with_place else ""
    text = f"{head}{place} — {clean(finding.message)} _({finding.critic})_"
    if finding.suggestion:
        text += f"\n  Suggestion: {clean(finding.suggestion)}"
    if finding.evidence:
        quoted = fence(clean(finding.evidence), "text").replace("\n", "\n  ")
        text += f"\n  Evidence:\n  {quoted}"
    return f"- {text}" if with_place else text


def verdict_table(result: ReviewResult) -> list[str]:
    rows = ["| critic | verdict | findings | parts |", "|---|---|---|---|"]
    for name, summary in result.verdicts.items():
        rows.append(f"| {name} | {VERDICT_ICONS[summary.verdict]} {summary.verdict} | {summary.findings} | {summary.parts} |")
    return rows


def findings_by_severity(findings: list[ReviewFinding]) -> list[str]:
    lines: list[str] = []
    for severity in reversed(SEVERITIES):
        group = [f for f in findings if f.severity == severity]
        if group:
            lines += ["", f"#### {ICONS[severity]} {severity} ({len(group)})", *(finding_item(f) for f in group)]
    return lines


def skipped_section(result: ReviewResult) -> list[str]:
    if not result.skipped_files:
        return []
    return ["", "### Not reviewed", *(f"- `{s.path}` — {s.reason}" for s in result.skipped_files)]


def unsupported_section(result: ReviewResult) -> list[str]:
    if not result.unsupported_findings:
        return []
    rows = [f"- {u.severity} `{u.path or '(whole change)'}{':' + str(u.line) if u.path and u.line else ''}` — "
            f"{clean(u.message)} _({u.critic}; {u.reason})_" for u in result.unsupported_findings]
    return ["", "### Dropped as unsupported", *rows]


def render_markdown(result: ReviewResult) -> str:
    """The whole review for a person: summary, verdicts, findings by severity, files not reviewed."""
    lines = [TITLE, "", result.summary, "", f"Base `{result.base[:12]}` → head `{result.head[:12]}`", "",
             *verdict_table(result)]
    if result.findings:
        lines += ["", "### Findings", *findings_by_severity(result.findings)]
    lines += skipped_section(result)
    lines += unsupported_section(result)
    return "\n".join(lines) + "\n"


def render_json(result: ReviewResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
