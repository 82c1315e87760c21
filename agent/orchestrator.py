"""The shape of a run: plan; for each step: tool loop, gate, commit; then the tests once more."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import Any

from agent.budget import BudgetExhausted
from agent.config import ESCALATION_ROLE
from agent.errors import AgentError, RunInterrupted
from agent.escalation import Stuck, advise, case_file, guide, stuck_at_gate, stuck_in_loop
from agent.executor import Executor, StepOutcome
from agent.gate import GateResult
from agent.planner import Plan
from agent.redact import redact_exact
from agent.routing import describe, route
from agent.session import RunSession
from agent.wording import counted
from tools.testrun import describe_test_command


def execute(s: RunSession) -> str:
    """Carry the run to its end and return its status; every outcome is journaled."""
    started = time.monotonic()
    elapsed = lambda: round(time.monotonic() - started, 3)  # noqa: E731
    found = s.test_command()
    s.journal.append("test_command", command=found.command if found else None,
                     reason=found.reason if found else None, line=describe_test_command(found))
    try:
        plan = s.plan or s.make_plan()
        if s.config.route == "auto" and not s.routed:
            chosen = route(plan, s.config)
            s.executor_role, s.routed = chosen.executor, True
            s.journal.append("route", line=describe(chosen), **chosen.record())
        if s.hooks.confirm_plan is not None and not s.approved and not s.hooks.confirm_plan(plan):
            s.journal.append("run_finished", status="declined", duration_s=elapsed())
            s.discard_if_unstarted("the plan was declined")
            return "declined"
        status = "succeeded"
        for index in range(len(plan.steps)):
            if index in s.approved:
                continue
            if not run_step(s, plan, index):
                status = "blocked"
                for rest in range(index + 1, len(plan.steps)):
                    s.journal.append("step_skipped", index=rest)
                break
        tests = s.final_tests(every_step_committed=status == "succeeded")
        if status == "succeeded":
            status = tests_verdict(tests, allow_no_tests=s.config.allow_no_tests)
    except BudgetExhausted as exc:  # the request that could pass the budget was not sent
        error = f"{exc}; {_raise_hint(s, exc)}"
        s.journal.append("budget_exhausted", **exc.record)
        s.journal.append("run_finished", status="budget_exhausted", error=error, head_commit=s.workspace.head(),
                         duration_s=elapsed(), **s.stopped_state())
        return "budget_exhausted"
    except KeyboardInterrupt:
        s.journal.append("run_interrupted", status="interrupted", duration_s=elapsed(), **s.stopped_state())
        raise RunInterrupted(f"run {s.run_id} interrupted; continue it with: agent resume {s.run_id}") from None
    except AgentError as exc:
        s.journal.append("run_finished", status="error", error=str(exc), duration_s=elapsed(), **s.stopped_state())
        s.discard_if_unstarted(str(exc))
        raise
    stopped = s.stopped_state() if status == "blocked" else {}  # a blocked run may be resumed
    s.journal.append("run_finished", status=status, head_commit=s.workspace.head(), duration_s=elapsed(), **stopped)
    return status


def _raise_hint(s: RunSession, exc: BudgetExhausted) -> str:
    """The command that finishes the run with a raised budget (approved steps are kept)."""
    r = exc.record
    if r["max_tokens_per_run"] is not None and r["spent_tokens"] + r["request_tokens"] > r["max_tokens_per_run"]:
        flag = f"--max-tokens-per-run {max(2 * r['max_tokens_per_run'], r['spent_tokens'] + 2 * r['request_tokens'])}"
    else:
        flag = f"--max-cost-usd {max(2 * r['max_cost_usd'], r['spent_cost_usd'] + 2 * r['request_cost_usd']):.4g}"
    return f"continue it with a raised budget: agent resume {s.run_id} {flag} --repo {shlex.quote(str(s.workspace.repo_root))}"


def tests_verdict(tests: dict[str, Any], *, allow_no_tests: bool) -> str:
    """A finished run's status from its last whole-suite test run: no test ran is not a success.

    allow_no_tests accepts a repository with no tests (none found, none collected), not a runner
    that broke before it could run them.
    """
    if tests.get("ran") is False:
        nothing_to_run = tests.get("command") is None or tests.get("no_tests_kind") == "none_collected"
        return "succeeded" if allow_no_tests and nothing_to_run else "unverified"
    return "succeeded" if tests.get("exit_code") == 0 else "failed"


def run_step(s: RunSession, plan: Plan, index: int) -> bool:
    """Execute step `index` until the gate approves it (commit) or it is stuck; a stuck step goes to
    the escalation role while escalations are left (agent/escalation.py), else it is blocked."""
    executor = s.new_executor(plan, index, role=s.executor_role)
    attempt, stuck = try_step(s, plan, index, Attempt(executor), range(1, s.config.max_revisions + 2))
    escalated = 0
    while stuck is not None and escalated < s.escalations_allowed():
        escalated += 1
        attempt += 1
        turn = escalate(s, plan, index, executor, stuck, Escalation(escalated, attempt))
        executor = turn.executor
        attempt, stuck = try_step(s, plan, index, turn, range(attempt, attempt + 1))
    if stuck is not None:
        reason = stuck.reason + (f"; escalated {counted(escalated, 'time')}" if escalated else "")
        s.journal.append("step_blocked", index=index, reason=reason)
        return False
    return True


def try_step(s: RunSession, plan: Plan, index: int, turn: Attempt, attempts: range) -> tuple[int, Stuck | None]:
    """The given attempts at step `index`: the last attempt made, and None once approved (and
    committed), else why the step is stuck."""
    step, executor, last = plan.steps[index], turn.executor, attempts[-1]
    for attempt in attempts:
        s.journal.append("step_started", index=index, attempt=attempt, title=step.title)
        outcome: StepOutcome = executor.run()
        if outcome.status == "blocked":
            return attempt, stuck_in_loop(outcome, attempt)
        gate: GateResult = s.judge(plan, index, outcome, executor)
        s.journal.append("gate", index=index, attempt=attempt, passed=gate.passed, verdicts=gate.as_json())
        if gate.passed and not s.step_changed():  # no empty commit: the step is approved as it stands
            s.journal.append("step_unchanged", index=index, attempts=attempt)
            return attempt, None
        if gate.passed:
            authors = turn.authors(s)
            commit = s.workspace.commit(redact_exact(step.title, s.secret_values), {**s.trailers(gate), **authors},
                                        staged=s.judged_index)
            s.journal.append("step_committed", index=index, commit=commit, attempts=attempt,
                             model=authors["Agent-Model"])
            return attempt, None
        if attempt < last:
            executor.revise(gate.findings_text(), attempt + 1, last)
    return last, stuck_at_gate(gate, last)


def escalate(s: RunSession, plan: Plan, index: int, executor: Executor, stuck: Stuck, esc: Escalation) -> Attempt:
    """Hand the stuck step to the escalation role: its guidance for the executor's next attempt
    ("advise"), or an executor of its own for that attempt ("execute")."""
    model = s.config.role_settings(ESCALATION_ROLE).model
    s.journal.append("escalation", index=index, number=esc.number, mode=s.config.escalation, trigger=stuck.trigger,
                     reason=stuck.reason, model=model, findings=len(stuck.findings))
    case = case_file(s.task, plan, index, stuck, s.workspace.diff(), executor.last_tests, executor.last_tests_text)
    if s.config.escalation == "advise":
        guidance = advise(s.client, case, f"step-{index + 1}")
        s.journal.append("escalation_advice", index=index, number=esc.number, guidance=guidance)
        guide(executor, guidance, esc.attempt)
        return Attempt(executor, advisor=model)
    return Attempt(s.new_executor(plan, index, role=ESCALATION_ROLE, takeover=case))


@dataclass(frozen=True)
class Escalation:
    number: int  # the step's first, second, ... escalation
    attempt: int  # the attempt it gives the step


@dataclass(frozen=True)
class Attempt:
    """Who makes an attempt: the executor (as its role's model), and the model that advised it, if any."""

    executor: Executor
    advisor: str | None = None

    def authors(self, s: RunSession) -> dict[str, str]:
        """The commit trailers that name the model that wrote the step (and the one that advised it)."""
        authors = {"Agent-Model": s.config.role_settings(self.executor.role).model}
        return authors | ({"Agent-Advisor": self.advisor} if self.advisor else {})
