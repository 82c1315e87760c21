"""`agent batch --ray`: the same batch, each target a Ray task on whichever node has room.

The driver keeps `--jobs` targets in flight across the cluster, ships each repository as git,
imports each finished run into the target's repository, and records the result as the thread
pool does. Ray retries a target whose worker died (node lost, process killed) from the start of
its run, `--retries` times; only the attempt that returns reaches the results, so a target is
never recorded twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import ray
from ray.exceptions import RayError, TaskCancelledError

from agent.batch.ray_git import GitSource, base_bundle, identity, import_run
from agent.batch.ray_hub import start_hub
from agent.batch.ray_worker import RemoteJob, RemoteOutcome, run_remote
from agent.batch.results import TargetResult, TargetStatus
from agent.batch.runner import BatchRun, target_result
from agent.batch.spec import Target
from agent.config import KEY_ENV_VARS
from agent.errors import AgentError, UserError
from agent.gitrepo import git

log = logging.getLogger("agent.batch")
POLL_S = 0.25


@dataclass(frozen=True)
class RayOptions:
    """Where to run: `address` None starts a local Ray instance; `retries` after a worker dies."""

    address: str | None = None
    retries: int = 1


def key_references() -> dict[str, str]:
    """The job's environment variables: each API key variable set here, as a `${NAME}` reference.

    Ray writes a runtime environment's values into its logs and into every task's spec, so a key
    never travels by value: each worker takes it from its node's environment (a local instance's
    nodes inherit this process's).
    """
    names = sorted({name for names in KEY_ENV_VARS.values() for name in names})
    return {name: f"${{{name}}}" for name in names if os.environ.get(name)}


def connect(options: RayOptions, jobs: int) -> None:
    """Join the cluster at `options.address`, or start a local instance with a slot per job."""
    settings: dict[str, Any] = dict(runtime_env={"env_vars": key_references()}, log_to_driver=False,
                                    logging_level=logging.WARNING)
    try:
        if options.address is None:
            ray.init(num_cpus=max(jobs, os.cpu_count() or 1), **settings)
        else:
            ray.init(address=options.address, **settings)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = options.address or "a local instance"
        raise UserError(f"--ray: cannot connect to {where}: {str(exc).splitlines()[0]}") from None


def run_on_ray(targets: list[Target], batch: BatchRun, jobs: int, options: RayOptions, *,
               on_start: Callable[[Target], None], on_finish: Callable[[TargetResult], None]) -> dict[str, TargetResult]:
    """Run every target on the cluster, `jobs` in flight; `on_finish` sees each result as it lands.

    Ctrl-C cancels the targets in flight (they are run again by `--resume`) and starts no more.
    """
    if batch.after_load is not None:  # the driver loads no model stack: the workers do
        batch.after_load()
    results: dict[str, TargetResult] = {}
    if not targets:
        return results
    connect(options, jobs)
    try:
        hub = start_hub(batch.limiter)
        flight = _Flight(targets, batch, hub, options)
        try:
            flight.run(jobs, on_start, lambda result: _record(results, result, on_finish))
        except KeyboardInterrupt:
            hub.cancel.remote()
            for target in flight.cancel():
                _record(results, _without_run(target, "interrupted", "the batch was interrupted"), on_finish)
        _mirror_accounting(hub, batch)
    finally:
        ray.shutdown()
    return results


def _record(results: dict[str, TargetResult], result: TargetResult,
            on_finish: Callable[[TargetResult], None]) -> None:
    results[result.target] = result
    on_finish(result)


class _Flight:
    """The targets not yet submitted, those in flight, and what turns a finished task into a result."""

    def __init__(self, targets: list[Target], batch: BatchRun, hub: Any, options: RayOptions) -> None:
        self.queue = deque(targets)
        self.batch, self.hub = batch, hub
        self.sources = _ship(targets)
        self.remote = ray.remote(run_remote)
        # A slot per target; spread over the nodes; a dead worker's target run again, a bug's not.
        self.task_options = dict(num_cpus=1, scheduling_strategy="SPREAD", max_retries=options.retries,
                                 retry_exceptions=False)
        self.in_flight: dict[Any, Target] = {}
        self.started: set[str] = set()

    def run(self, jobs: int, on_start: Callable[[Target], None], on_result: Callable[[TargetResult], None]) -> None:
        by_id = {t.id: t for t in self.queue}
        while self.queue or self.in_flight:
            while self.queue and len(self.in_flight) < jobs:
                self._submit(self.queue.popleft())
            done, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=POLL_S)
            # The freed slot gets its next target before the finished run is imported: an import
            # (fetch, worktree, report) takes the driver a while, and the cluster need not wait.
            while self.queue and len(self.in_flight) - len(done) < jobs:
                self._submit(self.queue.popleft())
            self._show(by_id, on_start)
            for ref in done:
                with deferred_interrupts():  # a run is imported and recorded whole, or not at all
                    on_result(self._result(self.in_flight.pop(ref), ref))

    def _submit(self, target: Target) -> None:
        source, bundle = self.sources[target.repo]
        job = RemoteJob(target.id, target.task, source, bundle, self.hub, self.batch.flags,
                        self.batch.no_critics, self.batch.batch_id)
        # Named by target id: the dashboard's task list (and the worker's process title) say which.
        self.in_flight[self.remote.options(name=target.id, **self.task_options).remote(job)] = target

    def _show(self, by_id: dict[str, Target], on_start: Callable[[Target], None]) -> None:
        """Progress the workers posted: a target starting on a node, its plan, steps and gates."""
        for target_id, event in ray.get(self.hub.drain.remote()):
            if event.get("type") == "node":
                on_start(by_id[target_id])
            if self.batch.on_event is not None:
                self.batch.on_event(target_id, event)

    def _result(self, target: Target, ref: Any) -> TargetResult:
        try:
            outcome: RemoteOutcome = ray.get(ref)
        except TaskCancelledError:
            return _without_run(target, "interrupted", "the batch was interrupted")
        except RayError as exc:  # the worker died every time it was tried, or a bug on the worker
            return _without_run(target, "error", _ray_failure(exc))
        if outcome.run is None:
            return _without_run(target, outcome.status, outcome.error or outcome.status, outcome)
        try:
            report = import_run(target.repo, outcome.run)
        except AgentError as exc:
            return _without_run(target, "error", f"the run's branch could not be fetched back: {exc}", outcome)
        result = target_result(target, report, outcome.status, outcome.error or report.error, model=outcome.model,
                               duration_s=outcome.duration_s)
        return result.model_copy(update={"node": outcome.node})

    def cancel(self) -> list[Target]:
        """Cancel every target in flight; those targets."""
        for ref in self.in_flight:
            ray.cancel(ref)
        cancelled, self.in_flight = list(self.in_flight.values()), {}
        return cancelled


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Within: Ctrl-C and SIGTERM wait for the block to end, then interrupt as usual (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt


def _ship(targets: list[Target]) -> dict[Path, tuple[GitSource, Any]]:
    """Each repository's source for the workers: its URL, or a bundle of HEAD put in the object store."""
    sources: dict[Path, tuple[GitSource, Any]] = {}
    for target in targets:
        if target.repo in sources:
            continue
        name, email = identity(target.repo)
        if target.url is not None:
            base = git(target.repo, "rev-parse", "--verify", "HEAD^{commit}").strip()
            sources[target.repo] = (GitSource(base, url=target.url, name=name, email=email), None)
        else:
            base, bundle = base_bundle(target.repo)
            sources[target.repo] = (GitSource(base, name=name, email=email), ray.put(bundle))
    return sources


def _ray_failure(exc: RayError) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__} on the cluster: {first}"


def _without_run(target: Target, status: TargetStatus, error: str, outcome: RemoteOutcome | None = None) -> TargetResult:
    return TargetResult(target=target.id, repo=str(target.repo), vars=target.vars, status=status, error=error,
                        duration_s=outcome.duration_s if outcome else 0.0, node=outcome.node if outcome else None)


def _mirror_accounting(hub: Any, batch: BatchRun) -> None:
    """The driver's limiter ends holding the cluster's record: when each call was admitted, the counts."""
    admissions, stats = ray.get(hub.accounting.remote())
    batch.limiter.admissions = admissions
    batch.limiter.stats.admitted, batch.limiter.stats.tokens = stats["admitted"], stats["tokens"]
    batch.limiter.stats.pauses = stats["pauses"]
