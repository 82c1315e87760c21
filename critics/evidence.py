"""Findings that prove what they claim: a blocking finding's file, line and evidence, checked mechanically.

A finding of severity medium or above must quote what it rests on: code from `file` near `line` in
the tree under review, or lines of the test output the critic was shown. A finding whose file is
missing, whose line is beyond the file, or whose quote is in neither place is dropped as
unsupported, and the verdict is judged on what remains: a request for changes whose every blocking
finding was dropped becomes an approval (the caller records that it did).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from critics.verdict import SEVERITY_RANK, Finding, Verdict
from tools.paths import DEFAULT_SECRET_GLOBS, PathRefused, confine

# Lines around `line` where the quote may start: a model counting lines in a diff is often off by a few.
LINE_SLACK = 5
# Prefixes a critic may copy along with the code: read_file's "  12\t", a review diff's
# "    12 + ", a unified diff's "+", search's "path:12: ". Stripped when every quoted line has one.
_PREFIXES = (re.compile(r"^\s*\d+\t"), re.compile(r"^\s*\d*\s[+ -] ?"), re.compile(r"^[+ -]"),
             re.compile(r"^[^\s:]+:\d+: ?"))
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Dropped:
    """A blocking finding the tree does not support, and why."""

    finding: Finding
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"finding": self.finding.model_dump(), "reason": self.reason}


@dataclass(frozen=True)
class Checked:
    """A verdict judged on its supported findings, the findings it lost, and whether it turned to approve."""

    verdict: Verdict
    dropped: list[Dropped] = field(default_factory=list)
    approved_after_drops: bool = False


@dataclass(frozen=True)
class Evidence:
    """What findings are checked against: the tree under review and the test output its critics saw."""

    tree: Path
    # Every test output the critics read: the step's latest, and each run a critic made itself.
    test_outputs: list[str] = field(default_factory=list)
    secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS
    # What the critics were shown of a file is redacted (keys as [REDACTED]): quotes match that view.
    redact: Callable[[str], str] = lambda text: text

    def check(self, verdict: Verdict) -> Checked:
        """The verdict without its unsupported blocking findings (low findings are advice: never checked)."""
        kept: list[Finding] = []
        dropped: list[Dropped] = []
        for finding in verdict.findings:
            reason = self.unsupported(finding) if _blocks(finding) else None
            if reason is None:
                kept.append(finding)
            else:
                dropped.append(Dropped(finding, reason))
        if not dropped:
            return Checked(verdict)
        turned = not verdict.approved and not any(_blocks(f) for f in kept)
        judged = Verdict(verdict="approve" if turned else verdict.verdict, findings=kept)
        return Checked(judged, dropped, approved_after_drops=turned)

    def unsupported(self, finding: Finding) -> str | None:
        """Why the finding is not supported by the tree or the test output; None when it is."""
        quotes = _quotes(finding.evidence or "")
        if not quotes:
            return "it quotes no evidence"
        if finding.file is None or not finding.file.strip():
            if self._in_test_output(quotes):
                return None
            return "it names no file and its evidence is not in the test output"
        lines_or_reason = self._lines(finding.file.strip())
        if isinstance(lines_or_reason, str):
            return lines_or_reason
        lines = lines_or_reason
        if finding.line is not None and not 1 <= finding.line <= len(lines):
            return f"line {finding.line} is beyond the end of {finding.file} ({len(lines)} lines)"
        if finding.line is None:
            near = lines
        else:
            span = max(q.count("\n") for q in quotes) + 1
            near = lines[max(finding.line - 1 - LINE_SLACK, 0): finding.line - 1 + LINE_SLACK + span]
        if any(_normal(q) in _normal("\n".join(near)) for q in quotes) or self._in_test_output(quotes):
            return None
        where = f"{finding.file}:{finding.line}" if finding.line is not None else finding.file
        return f"its evidence is not in {where}" + (" (nor in the test output)" if self.test_outputs else "")

    def _lines(self, rel: str) -> list[str] | str:
        path = _existing(self.tree, rel, self.secret_globs)
        if isinstance(path, str):
            return path
        try:
            return self.redact(path.read_text(encoding="utf-8", errors="replace")).splitlines()
        except OSError as exc:
            return f"{rel} cannot be read ({exc.strerror or exc})"

    def _in_test_output(self, quotes: list[str]) -> bool:
        outputs = [_normal(text) for text in self.test_outputs]
        return any(_normal(q) in output for q in quotes for output in outputs if output)


def _blocks(finding: Finding) -> bool:
    return SEVERITY_RANK[finding.severity] >= SEVERITY_RANK["medium"]


def _existing(tree: Path, rel: str, secret_globs: tuple[str, ...]) -> Path | str:
    """The file `rel` names in the tree (a diff's a/ or b/ and a leading ./ forgiven), or why there is none."""
    candidates = [rel] + [rel[len(p):] for p in ("b/", "a/", "./") if rel.startswith(p)]
    problem = f"{rel} does not exist in the tree under review"
    for candidate in candidates:
        try:
            path = confine(tree, candidate, secret_globs=secret_globs)
        except PathRefused as exc:
            problem = f"{rel} cannot be read ({exc})"
            continue
        if path.is_file():
            return path
    return problem


def _quotes(evidence: str) -> list[str]:
    """The evidence as quoted, and without a copied line prefix; empty when it quotes nothing."""
    text = evidence.strip("\n")
    if not _normal(text):
        return []
    quotes = [text]
    lines = [line for line in text.splitlines() if line.strip()]
    for prefix in _PREFIXES:
        if all(prefix.match(line) for line in lines):
            quotes.append("\n".join(prefix.sub("", line, count=1) for line in lines))
    return [q for q in quotes if _normal(q)]


def _normal(text: str) -> str:
    """Whitespace-insensitive form: every run of blanks and newlines one space."""
    return _SPACE.sub(" ", text).strip()
