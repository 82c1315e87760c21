"""`agent run` and `agent resume`: build a session, drive it, write the report, pick the exit code."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from rich.console import Console

from agent.budget import BudgetedClient, Limits, RunBudget
from agent.console import make_console
from agent.cost import Pricing
from agent.config import NO_KEY_PLACEHOLDER, AgentConfig, load_config
from agent.errors import AgentError, UserError
from agent.journal import Journal, read_events, runs_dir
from agent.llm.usage import UsageLedger
from agent.orchestrator import execute
from agent.planner import Plan
from agent.protocols import ModelClient
from agent.reasoning import ReasoningChooser
from agent.checkout_secrets import checkout_secret_values
from agent.recorder import RecordingClient, RedactingClient
from agent.redact import redact_obj
from agent.report import Report, build_report
from agent.restore import restore, stopped_at
from agent.runlock import RunLock
from agent.session import RunSession, journal_path
from agent.ui import Mode, RunView
from agent.summary import print_summary, write_report
from agent.gitrepo import locate, open_repo
from agent.runnames import new_run_id, slugify
from agent.workspace import GitWorkspace
from agent.preflight import preflight, run_roles
from critics.registry import Critic

if TYPE_CHECKING:  # the client is imported when a run starts, not at start-up
    from agent.llm.client import AttemptHook, RateLimitHook

# A declined plan is "not done" (1): nothing was carried out, and there is nothing to resume.
# An unverified run (no test ran) is not done either: nothing shows the change works.
EXIT_CODES = {"succeeded": 0, "unverified": 1, "failed": 1, "blocked": 1, "budget_exhausted": 1, "declined": 1,
              "error": 3, "interrupted": 130, "running": 1}


def _view_mode(json_out: bool, quiet: bool, console: Console) -> Mode:
    if json_out:
        return "json"
    if quiet:
        return "quiet"
    return "live" if console.is_terminal else "plain"




def _open_journal(path: Path, config: AgentConfig, critics: list[Critic], checkout_values: tuple[str, ...],
                  owner: RunLock | None = None) -> Journal:
    """The run's journal, redacting key patterns and, by exact value, every configured API key and
    every value of the checkout's secret files."""
    keys = {config.role_settings(role).api_key for role in run_roles(config, critics)}
    secrets = tuple(k for k in keys if k and k != NO_KEY_PLACEHOLDER) + checkout_values
    return Journal(path, redact=functools.partial(redact_obj, extra_values=secrets), owner=owner)


@dataclass(frozen=True)
class Carried:
    """What a resumed run carries over from its journal into its model client: the plan's labels
    (they choose reasoning) and what the run has spent so far (its budget counts it)."""

    plan: Plan | None = None
    spent_tokens: int = 0
    spent_cost: float = 0.0


def _client(config: AgentConfig, journal: Journal, before_attempt: AttemptHook | None = None,
            on_rate_limit: RateLimitHook | None = None, secret_values: tuple[str, ...] = (),
            carried: Carried = Carried()) -> RecordingClient:
    # Imported here, the last thing a new session needs: the SDK is the slowest import (~0.5 s),
    # and a batch loads it in the background while its first workspaces are being made.
    from agent.llm.client import LLMClient

    inner: ModelClient = LLMClient(config.role_settings, UsageLedger(), on_rate_limit=on_rate_limit,
                                   before_attempt=before_attempt,
                                   on_notice=lambda kind, fields: journal.append(kind, **fields))
    pricing = Pricing(lambda role: config.role_settings(role).model, config.prices)
    limits = Limits(config.max_tokens_per_run, config.max_cost_usd)
    if limits:
        inner = BudgetedClient(inner, RunBudget(limits, pricing, config.role_settings, carried.spent_tokens,
                                                carried.spent_cost))
    return RecordingClient(RedactingClient(inner, secret_values) if secret_values else inner, journal, pricing,
                           ReasoningChooser(config.reasoning_mode, carried.plan))


_STAGING = ".starting-"  # a run's first event is written here, then the folder is renamed to the run id


def _begin_journal(repo_root: Path, plan: Callable[[str], GitWorkspace],
                   start: Callable[[GitWorkspace], dict[str, Any]], open_journal: Callable[[Path], Journal],
                   ) -> tuple[GitWorkspace, Journal]:
    """A fresh run id, its workspace planned, and its journal begun with `run_started`, in one step.

    The first event is written in a hidden staging folder that is then renamed to the run's own,
    so a run killed at any moment is either absent or journaled (never an empty run folder), and
    two runs started in the same second (a batch) never share an id: renaming onto a taken one fails.
    """
    runs = runs_dir(repo_root)
    runs.mkdir(parents=True, exist_ok=True)
    _clear_dead_starts(runs)
    while True:
        run_id = new_run_id()
        workspace = plan(run_id)
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING}{os.getpid()}-", dir=runs))
        journal: Journal | None = None
        try:
            journal = open_journal(staging / "events.jsonl")  # owns the run from its first event on
            journal.append("run_started", run_id=run_id, **start(workspace))
            os.rename(staging, runs / run_id)
        except BaseException as exc:
            if journal is not None:
                journal.close()
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue  # the id was taken meanwhile
            raise
        # Kept open across the rename: no other process can take the run over in between.
        journal.moved(journal_path(repo_root, run_id))
        _fsync_folder(runs)  # the rename itself survives a power cut
        return workspace, journal


def _clear_dead_starts(runs: Path) -> None:
    """Remove the staging folders of starts killed before their rename (their process is gone):
    never runs, only litter. Those of starts still in progress, here or in another process, stay."""
    for folder in runs.glob(f"{_STAGING}*"):
        pid, dash, _ = folder.name.removeprefix(_STAGING).partition("-")
        if dash and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_session(task: str, repo: Path, flags: dict[str, Any], *, no_critics: bool = False,
                   in_place: bool = False, before_attempt: AttemptHook | None = None,
                   on_rate_limit: RateLimitHook | None = None, origin: dict[str, str] | None = None) -> RunSession:
    """A new run of `task` on the repository at `repo`: branch, worktree, journal, model, critics.

    For a shared rate limiter: `before_attempt` admits every model request attempt (it may wait,
    or raise KeyboardInterrupt to stop the run resumably); `on_rate_limit` sees every response's
    rate-limit headers. `origin` (what started the run, e.g. a batch and its target) is journaled
    with the start, so the run can be found again.
    """
    if not task.strip():
        raise UserError('the task is empty: say what to do, e.g. agent run "fix the failing test in tests/test_calc.py"')
    checkout = locate(repo)
    repo_root = checkout.root
    config = load_config(repo_root, flags, os.environ)
    critics = preflight(config, repo_root, no_critics=no_critics)
    where_from = {"origin": origin} if origin else {}
    secret_values = checkout_secret_values(repo_root, tuple(config.secret_globs))

    def start(workspace: GitWorkspace) -> dict[str, Any]:
        # In place: the user's untracked files, which the run leaves alone until it ends, resumed or not.
        users = {"user_files": list(workspace.user_files)} if in_place else {}
        return dict(task=task, repo=str(repo_root), branch=workspace.branch, worktree=str(workspace.root),
                    base_commit=workspace.base_commit, in_place=in_place, flags=flags, no_critics=no_critics,
                    config=config.redacted(), **users, **where_from)

    # Journaled before git makes the branch and worktree: a run killed meanwhile is still found
    # and continued (`agent resume`, `agent batch --resume`), never left behind unrecorded. A plan
    # refused (a dirty tree for --in-place) leaves no trace.
    workspace, journal = _begin_journal(
        repo_root, lambda run_id: GitWorkspace.planned(checkout, run_id, slugify(task), in_place=in_place,
                                            secret_globs=tuple(config.secret_globs)), start,
        lambda path: _open_journal(path, config, critics, secret_values))
    try:
        workspace.make()
    except AgentError:
        journal.close()
        shutil.rmtree(journal.path.parent)  # git refused: leave no trace
        raise
    client = _client(config, journal, before_attempt, on_rate_limit, secret_values)
    return RunSession(workspace.run_id, task, config, workspace, journal, client, critics,
                      secret_values=secret_values)


def run_command(task: str, repo: Path, flags: dict[str, Any], *, no_critics: bool, in_place: bool,
                json_out: bool, yes: bool, quiet: bool, scripted: bool = False, temporary: bool = False) -> int:
    """`agent run`: start a new run and drive it at the terminal (`temporary`: in a repository
    deleted on exit, the demo's)."""
    session = create_session(task, repo, flags, no_critics=no_critics, in_place=in_place)
    return drive(session, json_out=json_out, quiet=quiet, scripted=scripted, ask=not yes, temporary=temporary)


def resume_command(run_id: str, repo: Path, flags: dict[str, Any] | None = None, *, json_out: bool, quiet: bool,
                   scripted: bool = False) -> int:
    """`agent resume`: continue run `run_id` at the terminal; approved steps are not redone."""
    return drive(resume_session(run_id, repo, flags), json_out=json_out, quiet=quiet, scripted=scripted)


def resume_session(run_id: str, repo: Path, flags: dict[str, Any] | None = None, *, task: str | None = None,
                   before_attempt: AttemptHook | None = None, on_rate_limit: RateLimitHook | None = None) -> RunSession:
    """Run `run_id` rebuilt from its journal, its worktree back at the last approved step.

    `flags` override the run's own; `task`, when given, is the task the run must have been started
    for (a batch target's, whose spec may have been edited since); the hooks are those of
    `create_session`.
    """
    repo_root = open_repo(repo)
    path = journal_path(repo_root, run_id)
    if not path.is_file():
        raise UserError(f"no run {run_id!r} in {repo_root} (see: agent runs)")
    owner = RunLock.acquire(path.parent)  # before anything is read or reset: one process per run
    try:
        events = list(read_events(path))
        report = _resumable(run_id, events, task)
        started = events[0]
        config = load_config(repo_root, {**(started.get("flags") or {}), **(flags or {})}, os.environ)
        critics = preflight(config, repo_root, no_critics=bool(started.get("no_critics")))
        approved = {i for i, s in enumerate(report.steps) if s.status == "approved"}
        workspace = GitWorkspace.attach(repo_root, run_id, report.branch, Path(report.worktree), report.base_commit,
                                        remake=not approved, secret_globs=tuple(config.secret_globs),
                                        user_files=tuple(started.get("user_files") or ()))
        # Drop the interrupted step's partial work, and nothing the run did not write.
        restore(workspace, stopped_at(run_id, events, report.head_commit or report.base_commit))
        secret_values = checkout_secret_values(repo_root, tuple(config.secret_globs))
        journal = _open_journal(path, config, critics, secret_values, owner)
    except BaseException:
        owner.release()
        raise
    plan_event = next((e for e in events if e["type"] == "plan"), None)
    plan = Plan.model_validate({k: plan_event.get(k) for k in ("steps", "difficulty")}) if plan_event else None
    journal.append("run_resumed", approved=sorted(approved))
    total = report.usage.get("total") or {}
    carried = Carried(plan, int(total.get("prompt_tokens", 0) + total.get("completion_tokens", 0)),
                      total.get("cost_usd") or 0.0)
    client = _client(config, journal, before_attempt, on_rate_limit, secret_values, carried)
    routed = {"executor_role": report.route.executor, "routed": True} if report.route else {}
    return RunSession(run_id, report.task, config, workspace, journal, client, critics, plan=plan, approved=approved,
                      secret_values=secret_values, **routed)


def _resumable(run_id: str, events: list[dict[str, Any]], task: str | None) -> Report:
    """The report of a run that may be resumed (for `task`, when given); UserError saying why not."""
    report = build_report(events)
    if report.status in ("succeeded", "unverified", "failed"):
        raise UserError(f"run {run_id} already finished ({report.status}); see: agent show {run_id}")
    if report.workspace_state == "undone":
        raise UserError(f"run {run_id} was undone (agent undo); start the task again with agent run")
    if report.workspace_state == "discarded":
        raise UserError(f"run {run_id} ended before its first step ({report.status}) and kept nothing; "
                        "start the task again with agent run")
    if task is not None and report.task != task:
        raise UserError(f"run {run_id} was started for another task ({report.task!r})")
    return report


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM (a CI job cancelled, `kill`) ends the work the way Ctrl-C does, journaled as
    interrupted and resumable. Only the main thread can install a signal handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def drive(session: RunSession, *, json_out: bool, quiet: bool, scripted: bool = False, ask: bool = False,
          temporary: bool = False) -> int:
    """Run the session under the terminal view; write report.json; print the summary or the JSON.

    With `ask`, at an interactive terminal, the plan is shown and must be accepted before any step runs.
    """
    console = make_console(stderr=json_out)
    view = RunView(_view_mode(json_out, quiet, console), console, scripted=scripted)
    session.hooks = view.hooks()
    session.client.on_wait = view.on_model_wait
    if ask and not json_out and sys.stdin.isatty() and console.is_terminal:
        session.hooks.confirm_plan = view.confirm_plan
    session.journal.subscribe(view.on_event)
    for event in read_events(session.journal.path):  # replay for resumed runs: plan and states
        if event["type"] in ("plan", "route", "step_committed", "step_unchanged"):
            view.on_event(event)
    error: AgentError | None = None
    try:
        with terminate_as_interrupt(), view:
            status = execute(session)
    except AgentError as exc:
        error, status = exc, "error"
    finally:
        session.journal.close()
        session.client.close()
    report: Report = build_report(session.journal.path)
    write_report(report, session.journal.path.parent / "report.json")
    if json_out:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        print_summary(report, console, temporary=temporary, error_line=error is None)
    if error is not None:
        raise error  # the command's last line (`agent: …`) says what went wrong, once
    return EXIT_CODES[status]
