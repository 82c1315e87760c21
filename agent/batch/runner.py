"""One target = one full gated run in its own worktree and branch; a thread pool runs many at once.

A target's failure (blocked, failed, a model API error, even a bug) becomes that target's result
and never stops the others. The workspace serialises the one git operation that needs it (adding
a worktree to a repository); everything else runs concurrently.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, cast

from agent.batch.limiter import Admission, RateLimiter
from agent.batch.results import TargetResult, TargetStatus
from agent.batch.spec import Target
from agent.commands.run import create_session, resume_session
from agent.errors import AgentError, RunInterrupted, UserError
from agent.journal import Event, read_events, runs_dir
from agent.runlock import RunBusy
from agent.orchestrator import execute
from agent.report import Report, build_report
from agent.session import RunSession
from agent.summary import write_report
from agent.gitrepo import git
from agent.runnames import is_run_id
from tools.registry import tool_schemas

log = logging.getLogger("agent.batch")
EventListener = Callable[[str, Event], None]
_DIFF_FLAGS = ("--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--binary",
               "--src-prefix=a/", "--dst-prefix=b/")


@dataclass
class BatchRun:
    """What every job of a batch shares."""

    flags: dict[str, Any]
    limiter: RateLimiter
    no_critics: bool = False
    on_event: EventListener | None = None  # (target id, journal event), for the progress view
    cancel: threading.Event = field(default_factory=threading.Event)
    batch_id: str = ""  # what names this batch in each run's journal (its results file), for --resume
    resume_runs: dict[str, str] = field(default_factory=dict)  # target id → interrupted run to continue
    endpoints: tuple[str, ...] = ()  # every base URL the runs will call, set up while the jobs start
    after_load: Callable[[], None] | None = None  # called once the model stack is loaded, failed to, or is not needed
    loaded: threading.Event = field(default_factory=threading.Event)  # set once it is (or failed to be)

    def admission(self) -> Admission:
        return Admission(self.limiter, self.cancel.is_set)


class Sessions:
    """Makes each target's session (journal, branch, worktree) ahead of the job that takes it.

    Jobs take targets in order; when a job takes target k, a helper thread starts on target
    k + lookahead, so by the time a job moves on, git has made its next workspace while the model
    was answering. A target taken before its turn came up is made in the job's own thread.
    """

    def __init__(self, targets: list[Target], batch: BatchRun, lookahead: int) -> None:
        self._order = list(targets)
        self._position = {t.id: i for i, t in enumerate(targets)}
        self._batch = batch
        self._lookahead = lookahead
        self._ahead: dict[str, Future[RunSession]] = {}
        self._scheduled: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch-prepare")
        # The first round is made at once, by the helpers alone: while the model SDK is still
        # loading, two threads making workspaces slow that import less than a thread per job.
        for first in self._order[:lookahead]:
            self._scheduled.add(first.id)
            self._ahead[first.id] = self._pool.submit(_create, first, batch)

    def take(self, target: Target) -> RunSession:
        """The target's session, waiting for one in the making; AgentError when it could not be made."""
        with self._lock:
            self._scheduled.add(target.id)
            made = self._ahead.pop(target.id, None)
            later = self._position[target.id] + self._lookahead
            if later < len(self._order) and self._order[later].id not in self._scheduled:
                upcoming = self._order[later]
                self._scheduled.add(upcoming.id)
                self._ahead[upcoming.id] = self._pool.submit(self._make_ahead, upcoming)
        return made.result() if made is not None else _create(target, self._batch)

    def _make_ahead(self, target: Target) -> RunSession:
        # Not while the model stack is still loading: the first model requests wait on that.
        self._batch.loaded.wait()
        return _create(target, self._batch)

    def close(self) -> list[tuple[Target, RunSession]]:
        """Stop making sessions; those made for targets no job took (after Ctrl-C), for the caller."""
        with self._lock:
            left, self._ahead = self._ahead, {}
        self._pool.shutdown(wait=True, cancel_futures=True)
        by_id = {t.id: t for t in self._order}
        return [(by_id[tid], future.result()) for tid, future in left.items()
                if not future.cancelled() and future.exception() is None]


def run_target(target: Target, batch: BatchRun, sessions: Sessions) -> TargetResult:
    """Run one target to its end and describe the outcome; never raises for the target's own failures."""
    started = time.monotonic()
    if batch.cancel.is_set():
        return _without_run(target, "interrupted", "the batch was interrupted before this target started", started)
    try:
        session = sessions.take(target)
    except RunBusy as exc:  # its run is carried on by another process: not a failure, to retry later
        return _without_run(target, "busy", f"{exc} (agent batch --resume retries this target)", started,
                            run_id=batch.resume_runs.get(target.id))
    except AgentError as exc:
        return _without_run(target, "error", str(exc), started)
    if batch.on_event is not None:
        listener = batch.on_event
        session.journal.subscribe(lambda event: listener(target.id, event))
    status, error = execute_run(session)
    return _ended(target, session, status, error, time.monotonic() - started)


def _ended(target: Target, session: RunSession, status: TargetStatus, error: str | None,
           duration_s: float) -> TargetResult:
    """The result of a session whose journal is closed; its report.json is written on the way."""
    report = build_report(session.journal.path)
    write_report(report, session.journal.path.parent / "report.json")
    return target_result(target, report, status, error or report.error, model=session.config.model, duration_s=duration_s)


def _create(target: Target, batch: BatchRun) -> RunSession:
    """The target's interrupted run, continued from its journal; else a new run."""
    hooks = {"before_attempt": batch.admission(), "on_rate_limit": batch.limiter.observe}
    run_id = batch.resume_runs.get(target.id)
    if run_id is not None:
        try:
            return resume_session(run_id, target.repo, batch.flags, task=target.task, **hooks)
        except RunBusy:
            raise  # another process is carrying the run on: a new run would do its work twice
        except UserError as exc:  # finished meanwhile, its branch removed, the spec edited: start afresh
            log.warning("target %s: run %s cannot be continued (%s); starting a new run", target.id, run_id, exc)
    return create_session(target.task, target.repo, batch.flags, no_critics=batch.no_critics,
                          origin={"batch": batch.batch_id, "target": target.id}, **hooks)


@dataclass
class LeftBehind:
    """What a killed batch left in its targets' run journals, by target id."""

    to_continue: dict[str, str] = field(default_factory=dict)  # runs that never finished: their ids
    finished: dict[str, TargetResult] = field(default_factory=dict)  # runs whose result line was lost


def left_behind(targets: list[Target], batch_id: str) -> LeftBehind:
    """The latest run this batch started for each target, found in the repositories' run journals.

    A batch killed outright (SIGKILL, a power cut) wrote no result line for its running targets:
    `--resume` continues their unfinished runs, and records the finished ones from their journals,
    instead of starting either over. A run counts only while the spec still gives its target the
    task it was started for.
    """
    by_id = {t.id: t for t in targets}
    latest: dict[str, tuple[float, Path]] = {}
    for repo in {t.repo for t in targets}:
        for journal in runs_dir(repo).glob("*/events.jsonl"):
            if not is_run_id(journal.parent.name):  # a run still being started (or killed doing so)
                continue
            start = next(read_events(journal), None)
            origin = (start or {}).get("origin") or {}
            target = origin.get("target")
            if origin.get("batch") != batch_id or target not in by_id or start["task"] != by_id[target].task:
                continue  # another batch's run, or one for a task the edited spec no longer gives
            if target not in latest or start["ts"] > latest[target][0]:
                latest[target] = (start["ts"], journal)
    left = LeftBehind()
    for target, (_, journal) in latest.items():
        events = list(read_events(journal))
        report = build_report(events)
        if report.status in ("running", "interrupted"):
            left.to_continue[target] = report.run_id
        else:
            model = (events[0].get("config") or {}).get("model")
            left.finished[target] = target_result(by_id[target], report, cast(TargetStatus, report.status),
                                                  report.error, model=model, duration_s=report.duration_s)
    return left


def execute_run(session: RunSession) -> tuple[TargetStatus, str | None]:
    """The run's status and error; the journal and client are closed whatever happens."""
    started = time.monotonic()
    try:
        return cast(TargetStatus, execute(session)), None
    except RunInterrupted as exc:
        return "interrupted", str(exc)
    except AgentError as exc:
        return "error", str(exc)
    except Exception as exc:  # a bug met by one target must not end the batch: journal it, report it
        error = f"unexpected {type(exc).__name__}: {exc}"
        log.error("target run %s failed unexpectedly", session.run_id, exc_info=exc)
        session.journal.append("run_finished", status="error", error=error,
                               duration_s=round(time.monotonic() - started, 3))
        return "error", error
    finally:
        session.journal.close()
        session.client.close()


def target_result(target: Target, report: Report, status: TargetStatus, error: str | None, *, model: str | None,
                  duration_s: float) -> TargetResult:
    """A target's results line from its run's report; the patch is read from the target's repository."""
    commits = [step.commit for step in report.steps if step.commit]  # one per approved step, in order
    patch = git(target.repo, "diff", *_DIFF_FLAGS, report.base_commit, report.head_commit) \
        if commits and report.head_commit else ""
    t = report.tests
    tests = t.model_dump() if t.exit_code is not None or t.command or t.ran is not None else None
    if status == "unverified" and not error:
        error = f"no test ran: {t.no_tests}"
    return TargetResult(
        target=target.id, repo=str(target.repo), vars=target.vars, status=status,
        branch=report.branch if report.workspace_state == "present" else None, commits=commits, patch=patch, tests=tests, usage=report.usage,
        error=error if status != "succeeded" else None, duration_s=round(duration_s, 3),
        run_id=report.run_id, model=model,
    )


def _without_run(target: Target, status: TargetStatus, error: str, started: float,
                 run_id: str | None = None) -> TargetResult:
    return TargetResult(target=target.id, repo=str(target.repo), vars=target.vars, status=status,
                        error=error, duration_s=round(time.monotonic() - started, 3), run_id=run_id)


def _never_started(target: Target, session: RunSession) -> TargetResult:
    """A session made ahead for a target the batch was interrupted before: journaled as
    interrupted, so `--resume` continues that run."""
    session.journal.append("run_interrupted", status="interrupted", duration_s=0.0)
    session.journal.close()
    session.client.close()
    return _ended(target, session, "interrupted", "the batch was interrupted before this target started", 0.0)


def _guarded(target: Target, batch: BatchRun, on_start: Callable[[Target], None], sessions: Sessions) -> TargetResult:
    """`run_target`, with anything unexpected (outside the run itself) turned into this target's error."""
    started = time.monotonic()
    try:
        on_start(target)
        return run_target(target, batch, sessions)
    except Exception as exc:  # see execute_run: one target's bug is its own result
        log.error("target %s failed unexpectedly", target.id, exc_info=exc)
        return _without_run(target, "error", f"unexpected {type(exc).__name__}: {exc}", started)


def _load_shared_modules(batch: BatchRun) -> None:
    """What every run loads on first use: the model SDK, the HTTP stack and TLS for the batch's
    endpoints, the tools and their schemas.

    Loaded in a thread of its own while the jobs make their first workspaces (git work that needs
    none of it), instead of by every job at once behind the import lock; a job that reaches its
    model client first waits for the import in progress.
    """
    try:
        from agent.llm.client import load_http_stack

        tool_schemas()
        load_http_stack(batch.endpoints)
    finally:
        _loaded(batch)


def _loaded(batch: BatchRun) -> None:
    """The model stack is loaded, or failed to load, or is not needed: tell whoever waits for it."""
    if batch.after_load is not None:
        batch.after_load()
    batch.loaded.set()


def run_all(targets: list[Target], batch: BatchRun, jobs: int, *, on_start: Callable[[Target], None],
            on_finish: Callable[[TargetResult], None]) -> dict[str, TargetResult]:
    """Run every target, `jobs` at once; `on_finish` sees each result as it lands (in this thread).

    Ctrl-C cancels the targets not yet started and interrupts the running ones at their next model
    call (each stays resumable); their results come back as `interrupted`.
    """
    results: dict[str, TargetResult] = {}
    if not targets:  # a finished spec run again: nothing to load the model stack for
        _loaded(batch)
        return results
    loading = threading.Thread(target=_load_shared_modules, args=(batch,), name="batch-load", daemon=True)
    loading.start()
    sessions = Sessions(targets, batch, lookahead=max(1, jobs))
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="batch")
    futures: dict[Future[TargetResult], Target] = {
        pool.submit(_guarded, t, batch, on_start, sessions): t for t in targets}
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                results[futures[future].id] = future.result()
                on_finish(results[futures[future].id])
    except KeyboardInterrupt:
        batch.cancel.set()
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                results[futures[future].id] = future.result()  # interrupted at its next model call
                on_finish(results[futures[future].id])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for target, session in sessions.close():  # made ahead for targets that never ran
            unused = _never_started(target, session)
            if target.id not in results:  # no job reached it (Ctrl-C), rather than failed before taking it
                results[target.id] = unused
                on_finish(unused)
        loading.join()
    return results
