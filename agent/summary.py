"""The final summary of a run, and the report file."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.errors import AgentError
from agent.gitrepo import git, git_ok
from agent.report import Report
from agent.wording import counted

STATUS_STYLE = {"succeeded": "bold green", "unverified": "bold yellow", "failed": "bold red", "blocked": "bold red",
                "budget_exhausted": "bold yellow",
                "error": "bold red", "declined": "bold yellow", "interrupted": "bold yellow", "running": "yellow",
                "undone": "dim"}


def write_report(report: Report, path: Path) -> None:
    """Write report.json atomically: a reader sees the old report or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(report.model_dump_json(indent=2) + "\n")
    os.replace(tmp, path)


def tests_counts(tests: dict) -> str:
    """`3 passed, 1 failed` from a tests record; "counts unknown" when the runner's output did not say."""
    if tests.get("passed") is None and tests.get("failed") is None:
        return "counts unknown"
    words = [f"{tests.get(k) or 0} {k}" for k in ("passed", "failed")]
    words += [f"{tests[k]} {k}" for k in ("errors", "skipped") if tests.get(k)]
    return ", ".join(words)


def shown_status(report: Report) -> str:
    """The status a person reads: `undone` once `agent undo` removed what the run made."""
    return "undone" if report.workspace_state == "undone" else report.status


def print_summary(report: Report, console: Console, *, temporary: bool = False, error_line: bool = True) -> None:
    """Status, each step with its commit, tests, tokens by role, then where the work is and the
    commands that take it, show it or discard it. `temporary`: the repository is deleted on exit
    (the demo), so no path or command is given that would point at nothing. `error_line`: False
    when the run's error is about to be printed as the command's own last line."""
    status = shown_status(report)
    console.print(Text(f"\nrun {report.run_id}: {status}", style=STATUS_STYLE.get(status, "")))
    if report.error and error_line:
        console.print(Text(f"error: {report.error}", style="red"))
    if report.steps:
        console.print(_steps_table(report))
    for line in escalation_lines(report):
        console.print(Text(line, style="magenta"), soft_wrap=True)
    t = report.tests
    if t.ran is False:
        console.print(Text(f"tests: no test ran: {t.no_tests}", style="yellow"))
        if report.status == "unverified":
            console.print("  the change is not verified by any test; --allow-no-tests (or allow_no_tests = true) "
                          "accepts a repository that has none")
    elif t.command:
        sandbox = "" if t.sandboxed in (True, None) else " — not sandboxed"
        console.print(f"tests: {t.command} → exit {t.exit_code} ({tests_counts(t.model_dump())}){sandbox}")
        for test_id in t.failing[:10]:
            console.print(f"  failing: {test_id}")
    if report.usage.get("by_role"):
        console.print(_usage_table("tokens and cost by role", "role", report.usage["by_role"], report.usage.get("total")))
    if report.usage.get("by_step"):
        console.print(_usage_table("by step", "step", report.usage["by_step"]))
    console.print(f"duration {report.duration_s:.1f}s")
    for line in _where_and_next(report, temporary):
        console.print(Text(line), soft_wrap=True)


def _steps_table(report: Report) -> Table:
    steps = Table(show_header=True, box=None)
    for column in ("#", "step", "status", "attempts", "commit"):
        steps.add_column(column, no_wrap=column != "step")
    for i, step in enumerate(report.steps):
        commit = (step.commit or "")[:10] or ("no changes" if step.status == "approved" else "")
        steps.add_row(str(i + 1), step.title, step.status, str(step.attempts), commit)
    return steps


def escalation_lines(report: Report) -> list[str]:
    """The route `--route auto` chose, then one line per escalation: which step, why, to which model,
    how it ended and what it used."""
    r = report.route
    lines = [] if r is None else [f"route: {r.model} executed every step: {'; '.join(r.reasons)}" if r.reasons
                                  else f"route: {r.model} executed: the plan was within GLM's rule"]
    for e in report.escalations:
        u = e.usage
        tokens = f"{u['prompt_tokens'] + u['completion_tokens']:g} tokens in {counted(int(u['requests']), 'request')}"
        lines.append(f"escalation: step {e.index + 1} ({e.trigger}: {e.reason}) → {e.model}, {e.mode}: "
                     f"{e.outcome}; {tokens}, {dollars(u.get('cost_usd', 0.0))}")
    return lines


def _usage_table(title: str, key: str, rows: dict[str, dict], total: dict | None = None) -> Table:
    """Tokens, seconds and dollars per role or per step, with the run's total under them."""
    usage = Table(show_header=True, box=None, title=title)
    for column in (key, "requests", "prompt", "cached", "completion", "reasoning", "seconds", "cost"):
        usage.add_column(column, justify="right" if column != key else "left", no_wrap=True)
    for name, u in [*rows.items(), *([("total", total)] if total and len(rows) > 1 else [])]:
        usage.add_row(name, *(f"{u.get(k, 0):g}" for k in ("requests", "prompt_tokens", "cached_tokens",
                                                           "completion_tokens", "reasoning_tokens", "seconds")),
                      dollars(u.get("cost_usd")))
    return usage


def dollars(cost: float | None) -> str:
    """`$0.0123`, or `?` when a model without a price was called."""
    return "?" if cost is None else f"${cost:.4f}"


def _where_and_next(report: Report, temporary: bool) -> list[str]:
    """Where the run's work is, and the exact commands to see, take or discard it."""
    if report.workspace_state == "discarded":
        why = "the plan was declined" if report.status == "declined" else "the run ended before its first step"
        return [f"nothing was changed: {why}, so its branch and worktree were removed"]
    if report.workspace_state == "undone":
        return [f"its branch {report.branch} and worktree were deleted (agent undo)"]
    if temporary:
        return ["the demo repository is deleted on exit; `agent demo --keep` keeps it to look at the branch"]
    in_place = report.worktree == report.repo
    lines = [f"branch {report.branch}" + (f", checked out in {report.repo}" if in_place else
                                          f" in worktree {report.worktree}")]
    here = Path.cwd().resolve() == Path(report.repo).resolve()
    agent = (lambda args: f"agent {args}") if here else (lambda args: f"agent {args} --repo {shlex.quote(report.repo)}")
    git_cmd = "git" if here else f"git -C {shlex.quote(report.repo)}"
    if not report.head_commit or report.head_commit == report.base_commit:
        return [*lines, "no commits: there is nothing to take",
                *([] if in_place else [f"  remove the branch and worktree: {agent(f'undo {report.run_id}')}"])]
    lines.append(f"  see the changes:  {agent(f'show {report.run_id} --diff')}")
    if in_place:
        return [*lines, "  go back to your branch: git switch -   (the run's branch stays)"]
    user_head = _user_head(report.repo)
    if user_head is not None and git_ok(Path(report.repo), "merge-base", "--is-ancestor", report.head_commit, user_head):
        return [*lines, "  its commits are already in the checked-out branch (taken)",
                f"  remove the branch and worktree: {agent(f'undo {report.run_id}')}"]
    if user_head == report.base_commit:
        take = f"{git_cmd} merge --ff-only {report.branch}"
    else:  # the user's branch moved on since the run started: the run's commits go on top
        take = f"{git_cmd} cherry-pick {report.base_commit[:12]}..{report.branch}"
    return [*lines, f"  take them:        {take}", f"                    (or: {agent(f'apply-run {report.run_id}')})",
            f"  discard them:     {agent(f'undo {report.run_id}')}"]


def _user_head(repo: str) -> str | None:
    try:
        return git(Path(repo), "rev-parse", "--verify", "HEAD^{commit}").strip()
    except AgentError:
        return None
