"""Putting a resumed run's checkout back at its last approved commit, never over work the run did not write.

An interrupted step's partial work is dropped so the step can restart cleanly. Anything else in
the checkout is kept: a run records the state of its checkout when it stops, and on resume
- changes made since then (the user's) make resume refuse, naming them;
- when that state is unknown (a crash, a kill) or the checkout is the user's own (`--in-place`,
  where the user may have edited while the run worked), the changes are saved with `git stash`
  and the user is told where;
- commits on the run's branch that the run did not make make resume refuse.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.errors import UserError
from agent.gitrepo import GitError, git
from agent.journal import Event
from agent.workspace import CACHES, GitWorkspace, user_pathspecs

log = logging.getLogger("agent.resume")
STOP_EVENTS = ("run_interrupted", "run_finished")
SHOWN_CHANGES = 3
_KINDS = {"A": "added", "D": "deleted", "M": "modified", "T": "changed type of"}


@dataclass(frozen=True)
class Stopped:
    """Where run `run_id` stopped: its last approved commit, and its checkout's state then (None: unknown)."""

    run_id: str
    head: str
    state: str | None


def stopped_at(run_id: str, events: list[Event], head: str) -> Stopped:
    """The state the run's last event recorded; unknown unless the run ended by journaling its stop."""
    last = events[-1] if events else {}
    state = last.get("checkout") if last.get("type") in STOP_EVENTS else None
    return Stopped(run_id, head, state if isinstance(state, str) else None)


def checkout_state(workspace: GitWorkspace) -> str:
    """The tree of everything in the checkout now, untracked and secret files included (test caches
    and the user's own untracked files of a run in place not): equal states mean nothing in the
    checkout changed. Hashed into the local repository only."""
    index = workspace.root / git(workspace.root, "rev-parse", "--git-path", "index").strip()
    with tempfile.TemporaryDirectory(prefix="agent-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if index.exists():
            shutil.copy2(index, env["GIT_INDEX_FILE"])  # its stat data spares hashing every file again
        else:
            git(workspace.root, "read-tree", "HEAD", env=env)
        git(workspace.root, "add", "--all", "--", ".", *CACHES, *user_pathspecs(workspace.user_files), env=env)
        return git(workspace.root, "write-tree", env=env).strip()


def restore(workspace: GitWorkspace, stopped: Stopped) -> None:
    """Bring the checkout back to `stopped.head`, dropping only what the run itself left there."""
    if workspace.head() != stopped.head:
        _require_own_commits(workspace, stopped)
    now = checkout_state(workspace)
    if now == _tree(workspace, "HEAD"):
        workspace.reset_to(stopped.head)  # nothing uncommitted: at most the run's own commits go
        return
    if stopped.state is not None and now != stopped.state:
        raise UserError(f"run {stopped.run_id}: {workspace.root} changed since the run stopped "
                        f"({_changes(workspace, stopped.state, now)}); resuming would discard that. Keep it with "
                        f"`git -C {workspace.root} stash --include-untracked` (or commit it elsewhere), "
                        f"then run `agent resume {stopped.run_id}` again")
    if stopped.state is None or workspace.mode == "in_place":
        changes = _changes(workspace, _tree(workspace, "HEAD"), now)
        sha = workspace.stash(f"agent resume {stopped.run_id}: uncommitted changes found in the checkout")
        log.warning("agent: run %s: saved the uncommitted changes in %s (%s) with git stash as %s; "
                    "get them back with `git -C %s stash apply %s`",
                    stopped.run_id, workspace.root, changes, sha[:12], workspace.root, sha[:12])
    workspace.reset_to(stopped.head)  # the interrupted step's partial work, exactly as the run left it


def _require_own_commits(workspace: GitWorkspace, stopped: Stopped) -> None:
    """Refuse when the branch moved past the run's last approved commit by commits the run did not make
    (a run killed between its commit and journaling it left one of its own: that one is redone)."""
    head = workspace.head()
    ahead = git(workspace.root, "rev-list", "--ancestry-path", f"{stopped.head}..{head}").split()
    runs = git(workspace.root, "log", "--format=%(trailers:key=Agent-Run,valueonly)",
               f"{stopped.head}..{head}").split()
    descends = git(workspace.root, "merge-base", stopped.head, head).strip() == stopped.head
    if descends and ahead and len(runs) == len(ahead) and set(runs) == {stopped.run_id}:
        return
    raise UserError(f"run {stopped.run_id}: its branch {workspace.branch} has commits the run did not make "
                    f"(it is at {head[:12]}, the run stopped at {stopped.head[:12]}); resuming would drop them. "
                    f"Move them to a branch of your own first (git branch <name> {head[:12]}; "
                    f"git -C {workspace.root} reset --keep {stopped.head[:12]})")


def _tree(workspace: GitWorkspace, rev: str) -> str:
    return git(workspace.root, "rev-parse", "--verify", f"{rev}^{{tree}}").strip()


def _changes(workspace: GitWorkspace, before: str, after: str) -> str:
    """The paths that differ between two states, e.g. "modified calc/stats.py, added notes.txt"."""
    try:
        out = git(workspace.root, "diff-tree", "-r", "--no-renames", "--name-status", "-z", before, after)
    except GitError:  # the recorded state's objects were pruned since: compare with the last commit
        out = git(workspace.root, "diff-tree", "-r", "--no-renames", "--name-status", "-z", _tree(workspace, "HEAD"),
                  after)
    fields = [f for f in out.split("\0") if f]
    pairs = [(_KINDS.get(kind[:1], "changed"), path) for kind, path in zip(fields[::2], fields[1::2])]
    shown = ", ".join(f"{kind} {path}" for kind, path in pairs[:SHOWN_CHANGES])
    more = len(pairs) - SHOWN_CHANGES
    return shown + (f" and {more} more" if more > 0 else "") if pairs else "no file differs"
