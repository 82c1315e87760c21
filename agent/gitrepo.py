"""One git command at a time, and the checkout a path belongs to.

Plain `git` subprocesses, not GitPython: every operation the agent needs is one git command
(worktree add/remove, add + commit, diff against a temporary index), GitPython's `Repo` objects
leave ResourceWarnings unless closed, and a subprocess lets each call pin its environment exactly
(a temporary GIT_INDEX_FILE, the identity fallback, no GIT_DIR inherited from a hook).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent.errors import AgentError, UserError

# Variables that would point git at another repository or index than the one named by -C.
_GIT_LOCATION_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX",
)


class GitError(AgentError):
    """A git command failed; the message names the command and git's own first line of complaint."""


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `git -C cwd ARGS` and return stdout; GitError with git's message when it fails."""
    proc = run_git(cwd, args, env)
    if proc.returncode != 0:
        raise failure(cwd, args, proc)
    return proc.stdout


def failure(cwd: Path, args: tuple[str, ...], proc: subprocess.CompletedProcess[str]) -> GitError:
    """The GitError for a failed `git ARGS`: the command and git's own first line of complaint."""
    return GitError(f"git {' '.join(args[:3])} failed in {cwd}: {complaint(proc)}")


def complaint(proc: subprocess.CompletedProcess[str]) -> str:
    """git's first non-empty line on stderr, or the exit code when it said nothing."""
    return next((line.strip() for line in proc.stderr.splitlines() if line.strip()), f"exit {proc.returncode}")


def git_ok(cwd: Path, *args: str) -> bool:
    """True when `git -C cwd ARGS` succeeds (for questions like 'does this ref exist')."""
    return run_git(cwd, args, None).returncode == 0


def run_git(cwd: Path, args: tuple[str, ...], env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    full_env = base | {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"} | (env or {})
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, env=full_env,
                          stdin=subprocess.DEVNULL)


@dataclass(frozen=True)
class Checkout:
    """What one `git rev-parse` says of a checkout: its top level, git's common dir, HEAD's commit."""

    root: Path
    common_dir: Path
    head: str


def locate(path: Path) -> Checkout:
    """The checkout containing `path`, in one git call; UserError naming what is wrong when there is none to use."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: not a directory")
    proc = run_git(path, ("rev-parse", "--show-toplevel", "--git-common-dir", "--verify", "--quiet", "HEAD^{commit}"),
                    None)
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 3:
        raise _unusable(path, proc)
    top, common, head = lines
    common_dir = Path(common) if Path(common).is_absolute() else path / common  # relative to -C's folder
    return Checkout(Path(top), Path(os.path.abspath(common_dir)), head)


def _unusable(path: Path, failed: subprocess.CompletedProcess[str]) -> UserError:
    """Why `path` holds no usable checkout: asked only once the one-call probe has failed."""
    proc = run_git(path, ("rev-parse", "--is-bare-repository"), None)
    if proc.returncode != 0:
        if "dubious ownership" in proc.stderr:
            return UserError(f"{path}: git refuses a repository owned by another user; see `git config safe.directory`")
        return UserError(f"{path}: not a git repository (run `git init` and commit first)")
    top = run_git(path, ("rev-parse", "--show-toplevel"), None)
    if proc.stdout.strip() == "true" or top.returncode != 0 or not top.stdout.strip():
        return UserError(f"{path}: not inside a working tree (a bare repository or a .git directory)")
    root = Path(top.stdout.strip())
    if not git_ok(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"):
        return UserError(f"{root}: the repository has no commits yet; commit something first")
    return UserError(f"{path}: git cannot read this checkout: {complaint(failed)}")


def open_repo(path: Path) -> Path:
    """The top-level directory of the git repository containing `path`; UserError when there is none to use."""
    return locate(path).root
