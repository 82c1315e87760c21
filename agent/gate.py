"""The gate: every enabled critic judges a step at once; the step passes when all approve."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from agent.critic_tools import CriticFailed, CriticTools, fail_closed, judge_with_tools
from agent.llm.types import Message
from agent.prompting import render_prompt
from agent.protocols import ModelClient
from critics.evidence import Checked, Dropped, Evidence
from critics.registry import Critic
from critics.verdict import Verdict


@dataclass(frozen=True)
class StepUnderReview:
    task: str
    title: str
    description: str
    acceptance: str
    summary: str
    diff: str
    tests: str
    agents: str = ""  # the repository's AGENTS.md in the judged tree, fenced as data ("" when none)
    changed: tuple[str, ...] = ()  # the paths the step changes, for the critics' relevance


@dataclass(frozen=True)
class CriticOutcome:
    """One critic's part in a gate: its verdict judged on supported findings, or why it was skipped."""

    verdict: Verdict
    dropped: tuple[Dropped, ...] = ()  # blocking findings the judged tree does not support
    approved_after_drops: bool = False  # it asked for changes, and every blocking finding was dropped
    skipped: str | None = None  # the change does not concern it: not judged, not an approval

    @property
    def passes(self) -> bool:
        return self.skipped is not None or self.verdict.approved

    def trailer(self) -> str:
        """The commit trailer's value: `approve`, or `skipped (docs only)`."""
        return f"skipped ({self.skipped})" if self.skipped is not None else self.verdict.verdict

    def as_json(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"verdict": "skipped", "reason": self.skipped, "findings": []}
        data: dict[str, Any] = self.verdict.model_dump()
        if self.dropped:
            data["dropped"] = [d.as_json() for d in self.dropped]
        if self.approved_after_drops:
            data["note"] = "approved: every blocking finding it gave was dropped as unsupported"
        return data


@dataclass
class GateResult:
    outcomes: dict[str, CriticOutcome]

    @property
    def passed(self) -> bool:
        return all(o.passes for o in self.outcomes.values())

    @property
    def verdicts(self) -> dict[str, Verdict]:
        """The verdicts of the critics that judged (skipped ones gave none)."""
        return {name: o.verdict for name, o in self.outcomes.items() if o.skipped is None}

    def findings_text(self) -> str:
        """The findings of every critic that asked for changes, with their evidence, for the executor."""
        lines = []
        for name, verdict in self.verdicts.items():
            if verdict.approved:
                continue
            for f in verdict.findings:
                where = f" ({f.file}{':' + str(f.line) if f.line else ''})" if f.file else ""
                hint = f" Suggestion: {f.suggestion}" if f.suggestion else ""
                evidence = f"\n  Evidence:\n{_indent(f.evidence)}" if f.evidence else ""
                lines.append(f"- [{name}, {f.severity}]{where} {f.message}{hint}{evidence}")
        return "\n".join(lines) or "- (a critic asked for changes without findings)"

    def as_json(self) -> dict[str, dict[str, Any]]:
        return {name: o.as_json() for name, o in self.outcomes.items()}


@dataclass
class Gate:
    client: ModelClient
    critics: list[Critic]
    tools: CriticTools | None = None  # over the step's judged tree; None: critics judge from the diff alone
    evidence: Evidence | None = None  # what blocking findings are checked against; None: not checked
    on_verdict: Callable[[str, CriticOutcome], None] | None = None

    def judge(self, step: StepUnderReview, step_id: str) -> GateResult:
        """All critics at once; a gate takes about as long as its slowest critic.

        Critics wait on the network, so threads over the (thread-safe) sync client overlap them as
        well as an event loop would, without tying the SDK's connection pool to a loop per gate.
        """
        if not self.critics:
            return GateResult({})
        with ThreadPoolExecutor(max_workers=len(self.critics), thread_name_prefix="critic") as pool:
            results = list(pool.map(lambda c: self._outcome(c, step, step_id), self.critics))
        return GateResult(dict(zip((c.name for c in self.critics), results)))

    def _outcome(self, critic: Critic, step: StepUnderReview, step_id: str) -> CriticOutcome:
        skipped = critic.relevance.why_skip(list(step.changed))
        if skipped is not None:
            outcome = CriticOutcome(Verdict(verdict="approve"), skipped=skipped)
        else:
            outcome = self._judged(critic, step, step_id)
        if self.on_verdict is not None:
            self.on_verdict(critic.name, outcome)
        return outcome

    def _judged(self, critic: Critic, step: StepUnderReview, step_id: str) -> CriticOutcome:
        """The critic's verdict, its unsupported findings dropped; one with no verdict that counts fails closed."""
        user = render_prompt("critic_user", task=step.task, title=step.title, description=step.description,
                             acceptance=step.acceptance, summary=step.summary or "(none)",
                             agents=step.agents or "(the repository has no AGENTS.md)",
                             diff=step.diff or "(no changes)", tests=step.tests)
        session = self.tools.session(critic) if self.tools is not None else None
        rules, facts = session.brief() if session is not None else ("", "")
        messages: list[Message] = [{"role": "system", "content": "\n\n".join(filter(None, (critic.system_prompt, rules)))},
                                   {"role": "user", "content": "\n".join(filter(None, (user, facts)))}]
        try:
            verdict = judge_with_tools(self.client, critic, messages, step_id, session)
        except CriticFailed as exc:
            failed = fail_closed(f"the {critic.name} critic gave no verdict that counts: {exc}; the step "
                                 "is judged again", "medium")
            return CriticOutcome(session.settle(failed) if session is not None else failed)
        finally:
            if session is not None:
                session.close()  # in this thread: a browser the critic opened was started in it
        if session is not None:
            verdict = session.cite(verdict)  # findings citing what its tools showed get that as evidence
        checked = self.evidence.check(verdict) if self.evidence is not None else Checked(verdict)
        # What the critic's tools proved (a failing probe) counts whatever it answered.
        final = session.settle(checked.verdict) if session is not None else checked.verdict
        return CriticOutcome(final, tuple(checked.dropped), checked.approved_after_drops and final.approved)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
