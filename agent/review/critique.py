"""Critics in review mode: their own system prompts, one request per critic and diff part, all at once.

The gate (`agent.gate`) judges one executor step and lets the qa critic run the tests; a review
judges code that was never run here and must never execute it, so critics get no tools and the
conversation is only: ask, parse the verdict, ask once more for a readable one. The thread-pool
fan-out and the fail-closed reading of an unreadable answer are the gate's ideas, used again.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agent.errors import ContextLengthError
from agent.jsonparse import strict_json_format
from agent.llm.types import ChatRequest, Message
from agent.prompting import load_prompt, render_prompt
from agent.protocols import ModelClient
from agent.redact import redact
from agent.review.parts import DiffPart
from critics.registry import BUILTIN_CRITICS, Critic, custom_critics_dir, load_critics
from critics.verdict import Finding, Severity, Verdict, parse_verdict, verdict_json_schema
from tools.trim import trim_middle

PR_TEXT_LIMIT = 6000  # characters of PR title + description shown to the critics
MAX_WORKERS = 16


@dataclass(frozen=True)
class PartVerdict:
    critic: str
    part: int
    verdict: Verdict
    readable: bool = True


def review_critics(names: list[str], repo_root: Path) -> list[Critic]:
    """The named critics with their review-mode system prompts (custom personas included)."""
    rules = load_prompt("review/_rules").strip()
    critics = []
    for critic in load_critics(names, repo_root):  # validates names and custom persona files
        if critic.name in BUILTIN_CRITICS:
            prompt = render_prompt(f"review/{critic.name}", rules=rules)
        else:
            persona = (custom_critics_dir(repo_root) / f"{critic.name}.md").read_text(encoding="utf-8", errors="replace")
            prompt = render_prompt("review/custom", rules=rules, persona=persona.strip())
        critics.append(Critic(critic.name, prompt))
    return critics


def fence(text: str, info: str = "") -> str:
    """`text` in a Markdown fence longer than any backtick run inside it, so it cannot break out."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def pr_text(title: str | None, body: str | None) -> str:
    """The PR's title and description as the critics see them: trimmed and redacted, or a placeholder."""
    if not (title or body):
        return "(no pull request description available)"
    text = f"Title: {title or '(none)'}\n\n{(body or '').strip() or '(no description)'}"
    return redact(trim_middle(text, PR_TEXT_LIMIT))


def user_message(part: DiffPart, pr: str) -> str:
    """The user message for one part: PR text and diff fenced as data; everything sent is redacted."""
    return render_prompt("review/user", part=part.index, parts=part.total, pr=fence(redact(pr), "text"),
                         files=", ".join(part.files), diff=fence(redact(part.text), "diff"))


def response_format() -> dict[str, Any]:
    """The strict verdict schema; the client sends it only where the critic's provider enforces it."""
    return strict_json_format("verdict", verdict_json_schema())


@dataclass
class ReviewRun:
    """Every critic on every part, concurrently; a model API failure (other than a part too long
    for the context, which is halved) ends the whole review."""

    client: ModelClient
    critics: list[Critic]
    on_verdict: Callable[[PartVerdict], None] | None = None
    max_workers: int = MAX_WORKERS
    # A part a critic could not review fails closed with a finding at this severity (the review's
    # --fail-on threshold), so an unread review can never pass as a clean one.
    unreviewed_severity: Severity = "high"

    def run(self, parts: list[DiffPart], pr: str) -> list[PartVerdict]:
        jobs = [(critic, part) for part in parts for critic in self.critics]
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
                                   {"role": "user", "content": user_message(part, pr)}]
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
        error = ""
        for _ in range(2):  # the answer, then one repair
            request = ChatRequest(role=critic.name, messages=messages, response_format=response_format(),
                                  step=f"review-part-{part.index}")
            completion = self.client.complete(request)
            try:
                return PartVerdict(critic.name, part.index, parse_verdict(completion.content))
            except ValueError as exc:
                error = str(exc)
                messages = [*messages, self.client.assistant_message(critic.name, completion),
                            {"role": "user", "content": render_prompt("critic_repair", error=error)}]
        return PartVerdict(critic.name, part.index, _unreadable(critic.name, part, error, self.unreviewed_severity),
                           readable=False)


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
    return Verdict(verdict="request_changes", findings=[Finding(
        severity=severity,
        message=f"part {part.index} of {part.total} holds a hunk too long for the model's context; "
                f"{', '.join(part.files)} were not reviewed by the {critic} critic",
    )])


def _unreadable(critic: str, part: DiffPart, error: str, severity: Severity) -> Verdict:
    """Fail closed, as the gate does: an answer that cannot be read is not an approval."""
    return Verdict(verdict="request_changes", findings=[Finding(
        severity=severity,
        message=f"the {critic} critic's answer for part {part.index} of {part.total} could not be read ({error}); "
                f"{', '.join(part.files)} were not reviewed by it",
    )])
