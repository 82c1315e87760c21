"""What `--post` sends to GitHub, as pure functions of the review: the `github` output format.

The plan carries the review exactly as a first post would send it, plus the fingerprints of the
findings behind each inline comment and the summary comment's Markdown. At post time the findings
already posted (listed, hashed, in the summary comment) are left out, so a later push does not
repeat them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.review.formats import clean, finding_item, render_markdown, skipped_section
from agent.review.model import ReviewFinding, ReviewResult

MARKER = "<!-- glm-agent-review -->"
_FINGERPRINTS = re.compile(r"<!-- glm-agent-fingerprints: ([0-9a-f,]*) -->")
BODY_LIMIT = 60_000  # GitHub refuses bodies over 65,536 characters
SUMMARY_LIMIT = 50_000  # leaves room for the fingerprint list in one comment
MAX_FINGERPRINTS = 800
MAX_COMMENTS = 200


Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class ReviewComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)
    line: int = Field(ge=1)
    side: Literal["RIGHT"] = "RIGHT"
    body: str = Field(min_length=1, max_length=BODY_LIMIT)


class ReviewPayload(BaseModel):
    """The body of `POST /repos/{owner}/{repo}/pulls/{n}/reviews`."""

    model_config = ConfigDict(extra="forbid")

    commit_id: str = Field(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")
    event: Literal["COMMENT", "REQUEST_CHANGES"]
    body: str = Field(max_length=BODY_LIMIT)
    comments: list[ReviewComment] = Field(default_factory=list, max_length=MAX_COMMENTS)


class GitHubPlan(BaseModel):
    """The `github` format: what `--post` (or `--post-from` this file) sends."""

    model_config = ConfigDict(extra="forbid")

    pull_number: int | None = Field(default=None, ge=1)
    review: ReviewPayload
    fingerprints: list[list[Fingerprint]] = Field(default_factory=list)  # per inline comment, its findings' hashes
    summary: str = Field(max_length=SUMMARY_LIMIT)
    result: ReviewResult | None = None  # the JSON review too, so one run can feed both artifacts; not posted


def _limit(text: str, limit: int = BODY_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 40] + "\n\n… (truncated)\n"


def inline_groups(result: ReviewResult, right_lines: dict[str, frozenset[int]]) -> tuple[
        dict[tuple[str, int], list[ReviewFinding]], list[ReviewFinding]]:
    """Findings on lines GitHub can comment on (added or context lines of the head side), grouped by
    path and line; and the rest, which go into the review body."""
    groups: dict[tuple[str, int], list[ReviewFinding]] = {}
    outside: list[ReviewFinding] = []
    for finding in result.findings:
        if finding.path is not None and finding.line is not None and finding.line in right_lines.get(finding.path, ()):
            groups.setdefault((finding.path, finding.line), []).append(finding)
        else:
            outside.append(finding)
    return groups, outside


def review_body(result: ReviewResult, outside: list[ReviewFinding], inline: int) -> str:
    lines = [f"**glm-agent review** — {result.summary}"]
    if inline:
        lines.append(f"\n{inline} finding(s) are inline comments on the diff.")
    if outside:
        lines += ["", "### Findings outside the diff's lines", *(finding_item(f) for f in outside)]
    lines += skipped_section(result)
    return _limit("\n".join(lines))


def build_plan(result: ReviewResult, right_lines: dict[str, frozenset[int]], request_changes_at: str,
               pull_number: int | None) -> GitHubPlan:
    """The review payload: inline comments only on lines inside the diff, the rest in the body."""
    groups, outside = inline_groups(result, right_lines)
    ordered = sorted(groups.items())[:MAX_COMMENTS]
    outside += [f for _, group in sorted(groups.items())[MAX_COMMENTS:] for f in group]
    comments = [ReviewComment(path=path, line=line, body=_limit("\n\n".join(finding_item(f, with_place=False) for f in group)))
                for (path, line), group in ordered]
    event = "REQUEST_CHANGES" if result.fails(request_changes_at) else "COMMENT"
    payload = ReviewPayload(commit_id=result.head, event=event, comments=comments,
                            body=review_body(result, outside, sum(len(g) for _, g in ordered)))
    return GitHubPlan(pull_number=pull_number, review=payload, summary=_limit(render_markdown(result), SUMMARY_LIMIT),
                      fingerprints=[[f.fingerprint() for f in group] for _, group in ordered], result=result)


def without_posted(plan: GitHubPlan, posted: set[str]) -> tuple[ReviewPayload, set[str], int]:
    """The payload minus inline comments whose findings were all posted before; the new
    fingerprints; and how many comments were left out."""
    keep, new = [], set()
    for comment, prints in zip(plan.review.comments, plan.fingerprints, strict=True):
        if prints and set(prints) <= posted:
            continue
        keep.append(comment)
        new.update(prints)
    repeated = len(plan.review.comments) - len(keep)
    body = plan.review.body
    if repeated:
        body += f"\n\n{repeated} inline comment(s) from earlier reviews still apply and are not repeated."
    return plan.review.model_copy(update={"comments": keep, "body": _limit(body)}), new, repeated


def inline_into_body(payload: ReviewPayload) -> ReviewPayload:
    """The same review with every inline comment moved into the body (GitHub refused a comment's line)."""
    moved = [f"- `{c.path}:{c.line}` {clean(c.body)}" for c in payload.comments]
    body = payload.body + "\n\n### Findings (GitHub refused them as inline comments)\n" + "\n".join(moved)
    return payload.model_copy(update={"comments": [], "body": _limit(body)})


def summary_comment(summary: str, fingerprints: set[str]) -> str:
    """The summary comment: marker, the review's Markdown, and the hidden list of posted findings."""
    kept = sorted(fingerprints)[-MAX_FINGERPRINTS:]
    return f"{MARKER}\n{summary}\n<!-- glm-agent-fingerprints: {','.join(kept)} -->\n"


def posted_fingerprints(body: str) -> set[str]:
    """The fingerprints listed in a summary comment's hidden marker."""
    match = _FINGERPRINTS.search(body)
    return {p for p in match.group(1).split(",") if p} if match else set()

