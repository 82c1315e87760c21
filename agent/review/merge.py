"""From the critics' verdicts per part to one review: paths made exact, twins merged, a summary."""

from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher

from agent.review.critique import PartVerdict
from agent.review.model import (SEVERITIES, CriticSummary, ReviewFinding, ReviewResult, SkippedFile,
                                UnsupportedFinding, VerdictName)
from critics.evidence import Dropped
from critics.verdict import SEVERITY_RANK, Finding

SIMILAR = 0.75  # messages at least this alike (difflib ratio of their words) are one finding


def normalise_path(path: str | None, known: set[str]) -> str | None:
    """The diff's own spelling of a path a critic wrote ("b/src/x.py", "./x.py", a unique suffix)."""
    if not path or not path.strip():
        return None
    clean = path.strip().strip("`'\"")
    for prefix in ("a/", "b/", "./", "/"):
        if clean.startswith(prefix) and clean not in known:
            clean = clean[len(prefix):]
    if clean in known:
        return clean
    matches = [k for k in known if k.endswith("/" + clean)]
    return matches[0] if len(matches) == 1 else clean


def to_review_finding(critic: str, finding: Finding, known: set[str]) -> ReviewFinding:
    path = normalise_path(finding.file, known)
    line = finding.line if path is not None and finding.line is not None and finding.line >= 1 else None
    return ReviewFinding(critic=critic, severity=finding.severity, path=path, line=line,
                         message=finding.message.strip(), suggestion=(finding.suggestion or "").strip() or None,
                         evidence=(finding.evidence or "").strip("\n") or None)


def to_unsupported(critic: str, dropped: Dropped, known: set[str]) -> UnsupportedFinding:
    finding = dropped.finding
    return UnsupportedFinding(critic=critic, severity=finding.severity, path=normalise_path(finding.file, known),
                              line=finding.line, message=finding.message.strip(), evidence=finding.evidence,
                              reason=dropped.reason)


def _words(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def similar(a: str, b: str) -> bool:
    """Near-identical messages: the same words, or nearly the same sequence of them."""
    wa, wb = _words(a), _words(b)
    return wa == wb or SequenceMatcher(None, wa, wb).ratio() >= SIMILAR


def merge_findings(findings: list[ReviewFinding]) -> list[ReviewFinding]:
    """One finding per path + line + near-identical message, naming every critic that made it;
    sorted worst first, then by path and line."""
    merged: list[ReviewFinding] = []
    for finding in findings:
        index = next((i for i, m in enumerate(merged) if m.path == finding.path and m.line == finding.line
                      and similar(m.message, finding.message)), None)
        if index is None:
            merged.append(finding)
            continue
        twin = merged[index]
        critics = list(dict.fromkeys([*twin.critics, *finding.critics]))
        worst = max(twin.severity, finding.severity, key=SEVERITY_RANK.__getitem__)
        merged[index] = twin.model_copy(update={"critic": ", ".join(critics), "severity": worst,
                                                "suggestion": twin.suggestion or finding.suggestion,
                                                "evidence": twin.evidence or finding.evidence})
    return sorted(merged, key=lambda f: (-SEVERITY_RANK[f.severity], f.path or "~", f.line or 0))


def critic_summaries(critics: list[str], verdicts: list[PartVerdict]) -> dict[str, CriticSummary]:
    """Each critic's verdict over all parts: error if any answer was unreadable, else request_changes if any part
    asked; skipped when it judged no part (none concerned it)."""
    out: dict[str, CriticSummary] = {}
    for name in critics:
        mine = [v for v in verdicts if v.critic == name]
        verdict: VerdictName = "approve"
        if verdicts and not mine:  # the change holds nothing that concerns it
            verdict = "skipped"
        elif any(not v.readable for v in mine):
            verdict = "error"
        elif any(not v.verdict.approved for v in mine):
            verdict = "request_changes"
        out[name] = CriticSummary(verdict=verdict, findings=sum(len(v.verdict.findings) for v in mine), parts=len(mine))
    return out


def summary_line(result: ReviewResult, files: int, parts: int) -> str:
    """One sentence a human reads first."""
    if parts == 0:  # no critic was asked: saying they approve would claim a review that never happened
        if result.skipped_files:
            return (f"nothing was reviewed: {len(result.skipped_files)} changed file(s), none that the critics "
                    "read (see Not reviewed).")
        return f"nothing to review: {result.head[:12]} changes nothing since {result.base[:12]}."
    counts = Counter(f.severity for f in result.findings)
    by_severity = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s])
    findings = f"{len(result.findings)} finding{'s' * (len(result.findings) != 1)}"
    if by_severity:
        findings += f" ({by_severity})"
    asked = [name for name, v in result.verdicts.items() if v.verdict in ("request_changes", "error")]
    passed = [name for name, v in result.verdicts.items() if v.verdict == "skipped"]
    verdicts = f"changes requested by {', '.join(asked)}" if asked else (
        "every critic approves" if not passed else "every critic that judged approves")
    if passed:
        verdicts += f"; skipped (nothing in its paths): {', '.join(passed)}"
    skipped = f"; {len(result.skipped_files)} file(s) not reviewed" if result.skipped_files else ""
    if result.unsupported_findings:
        skipped += f"; {len(result.unsupported_findings)} unsupported finding(s) dropped"
    unit = "part" if parts == 1 else "parts"
    return (f"{len(result.verdicts)} critic(s) reviewed {files} file(s) in {parts} {unit}: {findings}; "
            f"{verdicts}{skipped}.")


def build_result(base: str, head: str, critics: list[str], verdicts: list[PartVerdict], known_paths: set[str],
                 skipped: list[SkippedFile]) -> ReviewResult:
    """The review as SPEC §7's JSON model."""
    findings = [to_review_finding(v.critic, f, known_paths) for v in verdicts for f in v.verdict.findings]
    unsupported = [to_unsupported(v.critic, d, known_paths) for v in verdicts for d in v.dropped]
    result = ReviewResult(base=base, head=head, findings=merge_findings(findings),
                          verdicts=critic_summaries(critics, verdicts), skipped_files=skipped,
                          unsupported_findings=unsupported)
    parts = len({v.part for v in verdicts})
    return result.model_copy(update={"summary": summary_line(result, len(known_paths), parts)})
