"""One target's full gated run on a Ray worker, in a clone of its own; what comes back to the driver.

The worker needs nothing of the user's checkout: the repository arrives as a git URL or a bundle
in the object store, the API key from the node's environment (the job's runtime environment
names it), and the result, journal and branch go back as one return value.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Any

import ray

from agent.batch.ray_git import GitSource, RunRecord, branch_bundle, clone, scratch_dir
from agent.batch.ray_hub import RemoteAdmission, progress_event
from agent.batch.results import TargetStatus
from agent.batch.runner import execute_run
from agent.commands.run import create_session
from agent.errors import AgentError
from agent.journal import Event

_SHOWN = frozenset({"plan", "step_started", "gate", "tests"})  # the journal events the progress view uses


@dataclass(frozen=True)
class RemoteJob:
    """Everything a worker is sent for one target: never a key (see the module docstring)."""

    target: str
    task: str
    source: GitSource
    bundle: Any  # the ObjectRef of the base bundle (local repositories), else None
    hub: Any  # the batch's hub actor
    flags: dict[str, Any] = field(default_factory=dict)
    no_critics: bool = False
    batch_id: str = ""


@dataclass(frozen=True)
class RemoteOutcome:
    """What a worker returns: the run's status and, when a run was made, its record to import."""

    target: str
    node: str
    status: TargetStatus
    error: str | None
    run: RunRecord | None
    model: str | None
    duration_s: float


def node_name() -> str:
    """This worker's node as the progress view and the results show it: host and short node id."""
    return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"


def run_remote(job: RemoteJob) -> RemoteOutcome:
    """Clone, run the target's task to its end, and return the outcome; the clone is removed after."""
    started = time.monotonic()
    node = node_name()
    job.hub.post.remote(job.target, {"type": "node", "node": node})
    scratch = scratch_dir()
    try:
        source = job.source if job.bundle is None else replace(job.source, bundle=ray.get(job.bundle))
        repo = clone(source, scratch)
        admission = RemoteAdmission(job.hub)
        try:
            session = create_session(job.task, repo, job.flags, no_critics=job.no_critics,
                                     origin={"batch": job.batch_id, "target": job.target},
                                     before_attempt=admission, on_rate_limit=admission.observe)
        except AgentError as exc:
            return RemoteOutcome(job.target, node, "error", f"on {node}: {exc}", None, None,
                                 round(time.monotonic() - started, 3))
        session.journal.subscribe(lambda event: _forward(job, event))
        status, error = execute_run(session)
        workspace = session.workspace
        record = RunRecord(session.run_id, workspace.branch, workspace.base_commit,
                           session.journal.path.read_text(encoding="utf-8"),
                           branch_bundle(repo, workspace.branch, workspace.base_commit))
        return RemoteOutcome(job.target, node, status, error, record, session.config.model,
                             round(time.monotonic() - started, 3))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _forward(job: RemoteJob, event: Event) -> None:
    if event.get("type") in _SHOWN:
        job.hub.post.remote(job.target, progress_event(event))
