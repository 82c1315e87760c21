"""The gate: every enabled critic judges a step at once; the step passes when all approve."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from agent.critic_tools import CriticFailed, CriticTools, fail_closed, judge_with_tools
from agent.llm.types import Message
from agent.prompting import render_prompt
from agent.protocols import ModelClient
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


@dataclass
class GateResult:
    verdicts: dict[str, Verdict]

    @property
    def passed(self) -> bool:
        return all(v.approved for v in self.verdicts.values())

    def findings_text(self) -> str:
        """The findings of every critic that asked for changes, for the executor."""
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
        return {name: v.model_dump() for name, v in self.verdicts.items()}


@dataclass
class Gate:
    client: ModelClient
    critics: list[Critic]
    tools: CriticTools | None = None  # over the step's judged tree; None: critics judge from the diff alone
    on_verdict: Callable[[str, Verdict], None] | None = None

    def judge(self, step: StepUnderReview, step_id: str) -> GateResult:
        """All critics at once; a gate takes about as long as its slowest critic.

        Critics wait on the network, so threads over the (thread-safe) sync client overlap them as
        well as an event loop would, without tying the SDK's connection pool to a loop per gate.
        """
        if not self.critics:
            return GateResult({})
        with ThreadPoolExecutor(max_workers=len(self.critics), thread_name_prefix="critic") as pool:
            results = list(pool.map(lambda c: self._judge_one(c, step, step_id), self.critics))
        return GateResult(dict(zip((c.name for c in self.critics), results)))

    def _judge_one(self, critic: Critic, step: StepUnderReview, step_id: str) -> Verdict:
        user = render_prompt("critic_user", task=step.task, title=step.title, description=step.description,
                             acceptance=step.acceptance, summary=step.summary or "(none)",
                             agents=step.agents or "(the repository has no AGENTS.md)",
                             diff=step.diff or "(no changes)", tests=step.tests)
        messages: list[Message] = [{"role": "system", "content": critic.system_prompt},
                                   {"role": "user", "content": user}]
        session = self.tools.session(critic) if self.tools is not None else None
        try:
            verdict = judge_with_tools(self.client, critic, messages, step_id, session)
        except CriticFailed as exc:
            verdict = fail_closed(f"the {critic.name} critic gave no verdict that counts: {exc}; the step is "
                                  "judged again", "medium")
        if self.on_verdict is not None:
            self.on_verdict(critic.name, verdict)
        return verdict


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
