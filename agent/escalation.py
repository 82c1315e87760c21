"""Escalation: a step about to be blocked goes to a stronger model (the `escalation` role).

What that model is told is a compact case file: the task, the step, why it is stuck, the last
attempt's diff, the critics' findings (with their evidence) and the last test run. In "advise"
mode it answers guidance the executor follows for one more attempt; in "execute" mode it takes
one attempt at the step itself, with the executor's tools and the same gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agent.executor import Executor, StepOutcome
from agent.gate import GateResult
from agent.llm.types import ChatRequest
from agent.planner import Plan
from agent.prompting import render_prompt
from agent.protocols import ModelClient
from agent.redact import redact
from tools.trim import trim_middle

# Why a step is stuck: its critics kept rejecting it, the executor's loop limits stopped it, or the
# model kept answering without a tool call (GLM's tool call text that no parser could read).
Trigger = Literal["critics", "governor", "unparsed"]
CASE_DIFF_CHARS = 40_000
CASE_TESTS_CHARS = 6_000
FINDING_FIELDS = ("file", "line", "suggestion", "evidence")


@dataclass(frozen=True)
class Stuck:
    """A step about to be blocked: why, and the critics' last findings (empty when no gate judged it)."""

    trigger: Trigger
    reason: str
    attempts: int
    findings: tuple[dict[str, Any], ...] = ()


def stuck_in_loop(outcome: StepOutcome, attempts: int) -> Stuck:
    """The executor stopped the step before any gate: a loop limit, or answers without a tool call."""
    trigger: Trigger = "unparsed" if outcome.stop == "no_tool_calls" else "governor"
    return Stuck(trigger, outcome.reason or "the executor stopped", attempts)


def stuck_at_gate(gate: GateResult, attempts: int) -> Stuck:
    """The critics rejected the step on its last allowed attempt."""
    findings = tuple({"critic": name, **finding} for name, verdict in gate.as_json().items()
                     if verdict["verdict"] != "approve" for finding in verdict["findings"])
    return Stuck("critics", f"the critics did not approve after {attempts} attempts", attempts, findings)


def case_file(task: str, plan: Plan, index: int, stuck: Stuck, diff: str, tests: dict[str, Any] | None,
              tests_text: str) -> str:
    """The case the escalation model reads: everything it needs about the step, bounded and redacted."""
    step = plan.steps[index]
    return render_prompt(
        "escalation_case", task=task, step_number=index + 1, step_count=len(plan.steps), title=step.title,
        description=step.description, acceptance=step.acceptance, reason=stuck.reason, attempts=stuck.attempts,
        diff=trim_middle(redact(diff), CASE_DIFF_CHARS) or "(no changes)",
        findings=_findings_text(stuck.findings), tests=_tests_text(tests, tests_text),
    )


def _findings_text(findings: tuple[dict[str, Any], ...]) -> str:
    if not findings:
        return "(no reviewer judged the last attempt)"
    lines = []
    for f in findings:
        lines.append(f"- [{f['critic']}, {f['severity']}] {f['message']}")
        lines += [f"  {name}: {f[name]}" for name in FINDING_FIELDS if f.get(name) not in (None, "")]
    return "\n".join(lines)


def _tests_text(tests: dict[str, Any] | None, text: str) -> str:
    if tests is None:
        return "(the tests were not run on the last attempt)"
    failing = tests.get("failing") or []
    head = f"exit code {tests.get('exit_code')}; failing tests: {', '.join(failing) if failing else 'none named'}"
    return head + "\n<output>\n" + trim_middle(redact(text), CASE_TESTS_CHARS) + "\n</output>"


def advise(client: ModelClient, case: str, step_id: str) -> str:
    """One request to the escalation role: guidance for the executor's next attempt."""
    messages = [{"role": "system", "content": render_prompt("escalation_advise")}, {"role": "user", "content": case}]
    completion = client.complete(ChatRequest(role="escalation", messages=messages, step=step_id))
    return completion.content.strip() or "(the escalation model gave no guidance)"


def guide(executor: Executor, guidance: str, attempt: int) -> None:
    """Give the executor the escalation model's guidance for its next attempt, with a fresh budget."""
    executor.fresh_budget()
    executor.tell(render_prompt("executor_guidance", guidance=guidance, attempt=attempt))
