"""Critics in review mode: each critic on each diff part, all at once, reading the head tree.

A review judges code that was never run here and must never execute it: critics get the
read-only context tools over a snapshot of the pull request's head, nothing that runs. The
conversation, its budget and the fail-closed reading of an unreadable answer are the gate's.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agent.critic_tools import CriticFailed, CriticTools, fail_closed, fence, judge_with_tools
from agent.errors import ContextLengthError, UserError
from agent.llm.types import Message
from agent.prompting import render_prompt
from agent.protocols import ModelClient
from agent.redact import redact
from agent.review.parts import DiffPart
from critics.evidence import Dropped, Evidence
from critics.registry import Critic, CriticError, load_critics
from critics.verdict import Severity, Verdict
from tools.trim import trim_middle

PR_TEXT_LIMIT = 6000  # characters of PR title + description shown to the critics
MAX_WORKERS = 16


@dataclass(frozen=True)
class PartVerdict:
    critic: str
    part: int
    verdict: Verdict  # judged on its supported findings
    readable: bool = True
    dropped: tuple[Dropped, ...] = ()  # blocking findings the head tree does not support


def review_critics(names: list[str], repo_root: Path) -> list[Critic]:
    """The named critics in review mode (custom personas included); UserError for one that cannot be loaded."""
    try:
        return load_critics(names, repo_root, "review")
    except CriticError as exc:
        raise UserError(str(exc)) from None


def pr_text(title: str | None, body: str | None) -> str:
    """The PR's title and description as the critics see them: trimmed and redacted, or a placeholder."""
    if not (title or body):
        return "(no pull request description available)"
    text = f"Title: {title or '(none)'}\n\n{(body or '').strip() or '(no description)'}"
    return redact(trim_middle(text, PR_TEXT_LIMIT))


def user_message(part: DiffPart, pr: str, agents: str = "") -> str:
    """The user message for one part: PR text, AGENTS.md and diff fenced as data; everything sent is redacted."""
    return render_prompt("review/user", part=part.index, parts=part.total, pr=fence(redact(pr), "text"),
                         agents=agents or "(the repository has no AGENTS.md)",
                         files=", ".join(part.files), diff=fence(redact(part.text), "diff"))


@dataclass
class ReviewRun:
    """Every critic on every part, concurrently; a model API failure (other than a part too long
    for the context, which is halved) ends the whole review."""

    client: ModelClient
    critics: list[Critic]
    on_verdict: Callable[[PartVerdict], None] | None = None
    tools: CriticTools | None = None  # over the head tree; None: critics judge from the diff alone
    agents: str = ""  # the head tree's AGENTS.md, fenced as data
    evidence: Evidence | None = None  # what blocking findings are checked against (the head tree)
    max_workers: int = MAX_WORKERS
    # A part a critic could not review fails closed with a finding at this severity (the review's
    # --fail-on threshold), so an unread review can never pass as a clean one.
    unreviewed_severity: Severity = "high"

    def run(self, parts: list[DiffPart], pr: str) -> list[PartVerdict]:
        # A critic skips a part that changes nothing it is concerned with (its persona's relevance).
        jobs = [(critic, part) for part in parts for critic in self.critics
                if critic.relevance.why_skip(part.files) is None]
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(jobs)), thread_name_prefix="review") as pool:
            futures = [pool.submit(self._judge, critic, part, pr) for critic, part in jobs]
            return _results(futures)

    def _judge(self, critic: Critic, part: DiffPart, pr: str) -> PartVerdict:
        result = self._judge_fitting(critic, part, pr)
        if self.on_verdict is not None:
            self.on_verdict(result)
        return result

    def _judge_fitting(self, critic: Critic, part: DiffPart, pr: str) -> PartVerdict:
        """The verdict on `part`; a part the server finds too long (its count of tokens is not
        ours) is judged in halves, and one that cannot be halved fails closed."""
        messages: list[Message] = [{"role": "system", "content": critic.system_prompt},
                                   {"role": "user", "content": user_message(part, pr, self.agents)}]
        try:
            return self._converse(critic, part, messages)
        except ContextLengthError:
            halves = _halves(part)
            if halves is None:
                return PartVerdict(critic.name, part.index, _too_long(critic.name, part, self.unreviewed_severity),
                                   readable=False)
            verdicts = [self._judge_fitting(critic, half, pr) for half in halves]
            return PartVerdict(critic.name, part.index, _combined([v.verdict for v in verdicts]),
                               readable=all(v.readable for v in verdicts))

    def _converse(self, critic: Critic, part: DiffPart, messages: list[Message]) -> PartVerdict:
        session = self.tools.session(critic) if self.tools is not None else None
        try:
            verdict = judge_with_tools(self.client, critic, messages, f"review-part-{part.index}", session)
        except CriticFailed as exc:
            return PartVerdict(critic.name, part.index, _unreviewed(critic.name, part, str(exc), self.unreviewed_severity),
                               readable=False)
        if self.evidence is None:
            return PartVerdict(critic.name, part.index, verdict)
        checked = self.evidence.check(verdict)
        return PartVerdict(critic.name, part.index, checked.verdict, dropped=tuple(checked.dropped))


def _results(futures: list[Future[PartVerdict]]) -> list[PartVerdict]:
    """Each future's result in order; on the first failure the jobs not yet started are cancelled."""
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _halves(part: DiffPart) -> tuple[DiffPart, DiffPart] | None:
    """The part's files and hunks in two halves (they are joined by blank lines, which no hunk holds)."""
    units = part.text.split("\n\n")
    if len(units) < 2:
        return None
    first, second = units[: len(units) // 2], units[len(units) // 2:]
    return (DiffPart(part.index, part.total, part.files, "\n\n".join(first)),
            DiffPart(part.index, part.total, part.files, "\n\n".join(second)))


def _combined(verdicts: list[Verdict]) -> Verdict:
    approved = all(v.approved for v in verdicts)
    return Verdict(verdict="approve" if approved else "request_changes",
                   findings=[f for v in verdicts for f in v.findings])


def _too_long(critic: str, part: DiffPart, severity: Severity) -> Verdict:
    """Fail closed: a hunk the model's context cannot hold is not reviewed, and says so."""
    return fail_closed(f"part {part.index} of {part.total} holds a hunk too long for the model's context; "
                       f"{', '.join(part.files)} were not reviewed by the {critic} critic", severity)


def _unreviewed(critic: str, part: DiffPart, why: str, severity: Severity) -> Verdict:
    """Fail closed, as the gate does: a critic without a verdict that counts has not approved."""
    return fail_closed(f"the {critic} critic gave no verdict for part {part.index} of {part.total} ({why}); "
                       f"{', '.join(part.files)} were not reviewed by it", severity)
