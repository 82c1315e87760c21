"""The run report of SPEC §6, rebuilt from the journal alone (so `show` and `resume` need nothing else)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.journal import Event, read_events
from agent.llm.usage import NO_STEP

RunStatus = Literal["succeeded", "unverified", "failed", "blocked", "budget_exhausted", "declined", "error", "interrupted",
                    "running"]
# What is left of the run's branch and worktree: there, deleted by `agent undo`, or removed because
# the run ended before its first step (declined, the model unreachable) and had nothing to keep.
WorkspaceState = Literal["present", "undone", "discarded"]
StepStatus = Literal["approved", "blocked", "skipped", "pending"]
USAGE_FIELDS = ("requests", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens", "seconds")


class StepReport(BaseModel):
    title: str
    status: StepStatus = "pending"
    attempts: int = 0
    commit: str | None = None
    model: str | None = None  # the model that wrote the commit (its Agent-Model trailer)
    verdicts: dict[str, dict[str, Any]] = Field(default_factory=dict)


class EscalationReport(BaseModel):
    """One escalation of a stuck step to the escalation role, and what its tokens were."""

    index: int  # the step's index in the plan (0 for the first step)
    number: int  # the step's first, second, ... escalation
    mode: Literal["advise", "execute"]
    trigger: str  # critics, governor or unparsed
    reason: str
    model: str
    # rejected: the step was blocked or escalated again; interrupted: the run stopped during it.
    outcome: Literal["pending", "approved", "rejected", "interrupted"] = "pending"
    usage: dict[str, float | None] = Field(default_factory=lambda: _empty_usage())  # cost_usd None: unpriced


class TestsReport(BaseModel):
    """The last whole-suite test run: counts are None when the runner's output did not tell them."""

    command: str | None = None
    exit_code: int | None = None
    passed: int | None = None
    failed: int | None = None
    errors: int | None = None
    skipped: int | None = None
    runner: str | None = None
    failing: list[str] = Field(default_factory=list)
    sandboxed: bool | None = None
    ran: bool | None = None  # False: no test ran (the run is unverified)
    no_tests: str | None = None  # why no test ran


class RouteReport(BaseModel):
    """What `route = "auto"` chose: the role (and model) that executes the steps, and the rule's reasons."""

    executor: str
    model: str
    reasons: list[str] = Field(default_factory=list)


class Report(BaseModel):
    run_id: str
    task: str
    status: RunStatus = "running"
    repo: str
    branch: str
    worktree: str
    base_commit: str
    head_commit: str | None = None
    steps: list[StepReport] = Field(default_factory=list)
    escalations: list[EscalationReport] = Field(default_factory=list)
    route: RouteReport | None = None  # None: the run was not routed (route = "off")
    tests: TestsReport = Field(default_factory=TestsReport)
    usage: dict[str, Any] = Field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    workspace_state: WorkspaceState = "present"


def _empty_usage() -> dict[str, float | None]:
    return {**{name: 0 for name in USAGE_FIELDS}, "cost_usd": 0.0}


def _add_usage(usage: dict[str, Any], event: Event) -> None:
    """One model call's tokens and cost, added to the run's total, its role's and its step's.

    A bucket's cost is None (unknown) once one of its calls had no price: a partial sum would
    pass for the whole.
    """
    for bucket in (usage.setdefault("total", _empty_usage()),
                   usage.setdefault("by_role", {}).setdefault(event["role"], _empty_usage()),
                   usage.setdefault("by_step", {}).setdefault(event.get("step") or NO_STEP, _empty_usage())):
        _add_call(bucket, event)


def _add_call(bucket: dict[str, Any], event: Event) -> None:
    """Add one `model_call` event's tokens, seconds and cost to `bucket`."""
    call, cost = event.get("usage", {}), event.get("cost_usd")
    for name in USAGE_FIELDS:
        bucket[name] = round(bucket[name] + (call.get(name, 0) or 0), 3)
    known = bucket.get("cost_usd", 0.0) is not None and cost is not None
    # Calls are priced to 8 decimals; summing at that precision keeps the total exact (rounding to
    # fewer decimals on every call would let the total drift from the sum of its calls).
    bucket["cost_usd"] = round(bucket.get("cost_usd", 0.0) + cost, 8) if known else None


def _apply(report: Report | None, event: Event) -> Report | None:
    kind = event["type"]
    if kind == "run_started":
        return Report(**{k: event[k] for k in ("run_id", "task", "repo", "branch", "worktree", "base_commit")},
                      usage={"total": _empty_usage(), "by_role": {}, "by_step": {}})
    if report is None:
        return None
    if kind == "plan":
        report.steps = [StepReport(title=s["title"]) for s in event["steps"]]
    elif kind == "model_call":
        _add_usage(report.usage, event)
        _escalation_usage(report, event)
    elif kind == "route":
        report.route = RouteReport(executor=event["executor"], model=event["model"], reasons=event["reasons"])
    elif kind == "escalation":
        _settle_escalations(report, event["index"], "rejected")
        report.escalations.append(EscalationReport(
            index=event["index"], **{k: event[k] for k in ("number", "mode", "trigger", "reason", "model")}))
    elif kind == "step_started":
        report.steps[event["index"]].attempts = event["attempt"]
    elif kind == "gate":
        report.steps[event["index"]].verdicts = event["verdicts"]
    elif kind == "step_committed":
        step = report.steps[event["index"]]
        step.status, step.commit, step.model = "approved", event["commit"], event.get("model")
        report.head_commit = event["commit"]
        _settle_escalations(report, event["index"], "approved")
    elif kind == "step_unchanged":  # approved, but it changed nothing: no commit
        report.steps[event["index"]].status = "approved"
        _settle_escalations(report, event["index"], "approved")
    elif kind == "step_blocked":
        report.steps[event["index"]].status = "blocked"
        _settle_escalations(report, event["index"], "rejected")
    elif kind == "step_skipped":
        report.steps[event["index"]].status = "skipped"
    elif kind == "tests":
        report.tests = TestsReport(**{k: event[k] for k in TestsReport.model_fields if event.get(k) is not None})
    elif kind in ("run_finished", "run_interrupted"):
        _settle_escalations(report, None, "interrupted")
        report.status = event.get("status", "interrupted")
        report.head_commit = event.get("head_commit", report.head_commit)
        report.duration_s = round(report.duration_s + event.get("duration_s", 0.0), 3)
        report.error = event.get("error")
    elif kind == "run_resumed":
        report.status = "running"
    elif kind == "run_undone":
        report.workspace_state = "undone"
    elif kind == "workspace_discarded":
        report.workspace_state = "discarded"
    return report


def _settle_escalations(report: Report, index: int | None,
                        outcome: Literal["approved", "rejected", "interrupted"]) -> None:
    """The pending escalation of step `index` (None: of any step) ended with `outcome`."""
    for escalation in report.escalations:
        if index in (None, escalation.index) and escalation.outcome == "pending":
            escalation.outcome = outcome


def _escalation_usage(report: Report, call: Event) -> None:
    """An escalation request's tokens also count toward the step's latest escalation."""
    if call["role"] != "escalation":
        return
    mine = [e for e in report.escalations if f"step-{e.index + 1}" == call.get("step")]
    if mine:
        _add_call(mine[-1].usage, call)


def build_report(events: list[Event] | Path) -> Report:
    """The report a journal describes; ValueError when it has no run_started event."""
    if isinstance(events, Path):
        events = list(read_events(events))
    report: Report | None = None
    for event in events:
        report = _apply(report, event)
    if report is None:
        raise ValueError("journal has no run_started event")
    return report
