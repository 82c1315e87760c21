"""The shape of a run: plan; for each step: tool loop, gate, commit; then the tests once more."""

from __future__ import annotations

import time
from typing import Any

from agent.errors import AgentError, RunInterrupted
from agent.executor import StepOutcome
from agent.gate import GateResult
from agent.planner import Plan
from agent.redact import redact_exact
from agent.session import RunSession
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
    """Execute step `index` until the gate approves it (commit) or the revisions run out (blocked)."""
    step = plan.steps[index]
    executor = s.new_executor(plan, index)
    attempts = s.config.max_revisions + 1
    for attempt in range(1, attempts + 1):
        s.journal.append("step_started", index=index, attempt=attempt, title=step.title)
        outcome: StepOutcome = executor.run()
        if outcome.status == "blocked":
            s.journal.append("step_blocked", index=index, reason=outcome.reason)
            return False
        gate: GateResult = s.judge(plan, index, outcome, executor)
        s.journal.append("gate", index=index, attempt=attempt, passed=gate.passed, verdicts=gate.as_json())
        if gate.passed and not s.step_changed():  # no empty commit: the step is approved as it stands
            s.journal.append("step_unchanged", index=index, attempts=attempt)
            return True
        if gate.passed:
            commit = s.workspace.commit(redact_exact(step.title, s.secret_values), s.trailers(gate), staged=s.judged_index)
            s.journal.append("step_committed", index=index, commit=commit, attempts=attempt)
            return True
        if attempt < attempts:
            executor.revise(gate.findings_text(), attempt + 1, attempts)
    s.journal.append("step_blocked", index=index, reason=f"the critics did not approve after {attempts} attempts")
    return False
