"""How a target's repository travels to a Ray worker and how its run comes back, as git.

The driver sends a git URL (the spec's `file://`, https or ssh address) or, for a local path, a
bundle of the base commit. The worker clones it, runs in its own clone, and returns a bundle of
the run's branch; the driver fetches that into the target's repository as the same `agent/...`
branch, with the run's journal, report and worktree where a local run leaves them.
No Ray here: only git and files, so each half is usable (and testable) on its own.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.gitrepo import git, locate, run_git
from agent.journal import run_dir
from agent.report import Report, build_report
from agent.summary import write_report
from agent.runnames import is_run_id
from agent.workspace import GitWorkspace, ensure_excluded, run_worktree

SCRATCH_PREFIX = "agent-ray-"


@dataclass(frozen=True)
class GitSource:
    """Where a worker gets a target's repository: `url`, or the bundle bytes; then `base` checked out."""

    base: str
    url: str | None = None
    bundle: bytes | None = None
    name: str | None = None  # the driver's user.name / user.email, so commits read as in a local run
    email: str | None = None


def base_bundle(repo: Path) -> tuple[str, bytes]:
    """The repository's HEAD commit and a bundle holding it (and its history) as `HEAD`."""
    base = git(repo, "rev-parse", "--verify", "HEAD^{commit}").strip()
    with tempfile.TemporaryDirectory(prefix="agent-bundle-") as tmp:
        path = Path(tmp) / "base.bundle"
        git(repo, "bundle", "create", "--quiet", str(path), "HEAD")
        return base, path.read_bytes()


def identity(repo: Path) -> tuple[str | None, str | None]:
    """The repository's configured commit author name and email (None for each one unset)."""
    return _config(repo, "user.name"), _config(repo, "user.email")


def _config(repo: Path, key: str) -> str | None:
    proc = run_git(repo, ("config", "--get", key), None)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


# -- on the worker ---------------------------------------------------------------------------------

def scratch_dir() -> Path:
    """A new folder for one target's clone, named with this process id; stale ones are removed first."""
    root = Path(tempfile.gettempdir())
    for old in root.glob(f"{SCRATCH_PREFIX}*"):
        pid = old.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):  # a worker killed mid-target left it
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clone(source: GitSource, scratch: Path) -> Path:
    """The target's repository cloned into `scratch` at the base commit, detached; its path."""
    where = scratch / "repo"
    if source.bundle is not None:
        bundle = scratch / "base.bundle"
        bundle.write_bytes(source.bundle)
        origin = str(bundle)
    else:
        assert source.url is not None
        origin = source.url
    git(scratch, "clone", "--quiet", "--no-checkout", origin, str(where))
    git(where, "checkout", "--quiet", "--detach", source.base)
    for key, value in (("user.name", source.name), ("user.email", source.email)):
        if value:
            git(where, "config", key, value)
    return where


def branch_bundle(repo: Path, branch: str, base: str) -> bytes | None:
    """The run branch's commits since `base` as a bundle; None when the branch has none."""
    if not git(repo, "rev-list", "--max-count=1", f"{base}..{branch}").strip():
        return None
    path = repo.parent / "run.bundle"
    git(repo, "bundle", "create", "--quiet", str(path), f"refs/heads/{branch}", f"^{base}")
    return path.read_bytes()


# -- on the driver ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunRecord:
    """What a worker returns of one run: its id, branch, base, journal text and branch bundle."""

    run_id: str
    branch: str
    base: str
    journal: str
    bundle: bytes | None


def import_run(repo: Path, record: RunRecord) -> Report:
    """Put a worker's run into `repo` as a local run leaves it: branch, worktree, journal, report.json."""
    if not is_run_id(record.run_id) or not record.branch.startswith("agent/"):
        raise ValueError(f"not a run of this agent: {record.run_id!r} on {record.branch!r}")
    checkout = locate(repo)
    ensure_excluded(checkout)
    folder = run_dir(checkout.root, record.run_id)
    worktree = run_worktree(checkout.root, record.run_id)
    if record.bundle is not None:
        with tempfile.TemporaryDirectory(prefix="agent-bundle-") as tmp:
            bundle = Path(tmp) / "run.bundle"
            bundle.write_bytes(record.bundle)
            git(checkout.root, "fetch", "--quiet", "--no-write-fetch-head", str(bundle),
                f"refs/heads/{record.branch}:refs/heads/{record.branch}")
    else:
        git(checkout.root, "branch", "--quiet", record.branch, record.base)
    GitWorkspace.attach(checkout.root, record.run_id, record.branch, worktree, record.base)
    folder.mkdir(parents=True, exist_ok=True)
    journal = folder / "events.jsonl"
    journal.write_text(_relocated(record.journal, checkout.root, worktree), encoding="utf-8")
    report = build_report(journal)
    write_report(report, folder / "report.json")
    return report


def _relocated(journal: str, repo: Path, worktree: Path) -> str:
    """The journal with its start naming this repository and worktree instead of the worker's clone."""
    first, newline, rest = journal.partition("\n")
    start = json.loads(first)
    start.update(repo=str(repo), worktree=str(worktree))
    return json.dumps(start, ensure_ascii=False) + newline + rest
