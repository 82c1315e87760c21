"""One git command at a time, and the checkout a path belongs to.

Plain `git` subprocesses, not GitPython: every operation the agent needs is one git command
(worktree add/remove, add + commit, diff against a temporary index), GitPython's `Repo` objects
leave ResourceWarnings unless closed, and a subprocess lets each call pin its environment exactly
(a temporary GIT_INDEX_FILE, the identity fallback, no GIT_DIR inherited from a hook).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent.errors import AgentError, UserError
from tools.gitcmd import git_env, run_git_text



class GitError(AgentError):
    """A git command failed; the message names the command and git's own first line of complaint."""


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `git -C cwd ARGS` and return stdout; GitError with git's message when it fails."""
    proc = run_git(cwd, args, env)
    if proc.returncode != 0:
        raise failure(cwd, args, proc)
    return proc.stdout


def failure(cwd: Path, args: tuple[str, ...], proc: subprocess.CompletedProcess[str]) -> AgentError:
    """The error for a failed `git ARGS`: a UserError naming the program when a filter the
    repository needs is not installed, else a GitError with the command and git's complaint."""
    return missing_filter(cwd, proc.stderr) or GitError(f"git {' '.join(args[:3])} failed in {cwd}: {complaint(proc)}")


def complaint(proc: subprocess.CompletedProcess[str]) -> str:
    """git's first `fatal:` line on stderr, else its first non-empty one, else the exit code."""
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("fatal:")), lines[0] if lines else f"exit {proc.returncode}")


def missing_filter(cwd: Path, stderr: str) -> UserError | None:
    """A UserError naming the program, when git failed because a filter driver runs a program that
    is not installed (the shell's complaint names it); None for any other failure."""
    listed = run_git(cwd, ("config", "--get-regexp", r"^filter\..*\.(process|smudge|clean)$"), None)
    for line in listed.stdout.splitlines():
        key, _, command = line.partition(" ")
        program = _program(command.split(), cwd)
        if program is not None and program in stderr:
            name = key[len("filter."):key.rindex(".")]
            return UserError(f"the repository's .gitattributes needs the git filter {name!r}, whose program "
                             f"{program} is not installed; install {program} and run again")
    return None


def _program(words: list[str], cwd: Path) -> str | None:
    """The program a filter command starts, when it is not installed (`git lfs …` starts git-lfs)."""
    search_path = git_env()["PATH"]
    if words[:1] == ["git"] and len(words) > 1 and not words[1].startswith("-"):
        words = [f"git-{words[1]}"]
        search_path += os.pathsep + run_git(cwd, ("--exec-path",), None).stdout.strip()
    return words[0] if words and shutil.which(words[0], path=search_path) is None else None


def git_ok(cwd: Path, *args: str) -> bool:
    """True when `git -C cwd ARGS` succeeds (for questions like 'does this ref exist')."""
    return run_git(cwd, args, None).returncode == 0


def run_git(cwd: Path, args: tuple[str, ...], env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    """`git -C cwd ARGS` as `tools.gitcmd` runs every git command: no hook or other program it could start."""
    return run_git_text(cwd, args, env)


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


# What git runs while it checks files out and stages them: filter drivers. Where a config value may
# come from: an included file.
_FILTER_COMMAND = re.compile(r"filter\.(.+)\.(?:clean|smudge|process)")
_INCLUDE = re.compile(r"include(?:if\..*)?\.path")


def audit_config(repo: Path, tree: Path) -> None:
    """UserError when files in the working tree `tree` could change what git runs: a config file
    included from there (an existing one or one yet to be written), or a filter driver whose command
    runs a script from there. The model writes that tree, and git runs filters outside the sandbox."""
    proc = run_git(repo, ("config", "--show-origin", "--null", "--list"), None)
    fields = proc.stdout.split("\0")
    for origin, entry in zip(fields[::2], fields[1::2]):
        key, _, value = entry.partition("\n")
        source = _origin_file(repo, origin)
        if source is not None and _in_tree(source, tree):
            raise UserError(f"git reads config from {source}, a file in the working tree the agent edits; "
                            f"remove that include.path (or run without --in-place)")
        if _INCLUDE.fullmatch(key) and source is not None:
            included = Path(os.path.expanduser(value))
            if _in_tree(source.parent / included, tree):
                raise UserError(f"{key} = {value} ({source}) includes git config from the working tree the "
                                f"agent edits; remove it (or run without --in-place)")
        driver = _FILTER_COMMAND.fullmatch(key)
        if driver and _runs_from_tree(value, tree):
            raise UserError(f"{key} = {value!r} runs a program from the working tree the agent edits, outside "
                            f"the sandbox; give the filter an installed program or an absolute path")


def _origin_file(repo: Path, origin: str) -> Path | None:
    """The config file named by a `--show-origin` field (relative ones are relative to `repo`)."""
    kind, _, name = origin.partition(":")
    if kind != "file" or not name:
        return None
    return Path(os.path.abspath(repo / name))


def _in_tree(path: Path, tree: Path) -> bool:
    """Whether `path` is in the working tree `tree` and not in its `.git`."""
    real, top = Path(os.path.realpath(path)), Path(os.path.realpath(tree))
    return top in real.parents and real.relative_to(top).parts[0] != ".git"


def _runs_from_tree(command: str, tree: Path) -> bool:
    """Whether a filter command (run by the shell, in the working tree) names a file of that tree."""
    try:
        words = shlex.split(command)
    except ValueError:
        return True  # what the shell would make of it cannot be told
    for word in (w for w in words if "%" not in w and not w.startswith(("-", "/", "~"))):
        if "/" in word or (tree / word).exists():
            return True
    program = shutil.which(words[0]) if words else None
    return program is not None and _in_tree(Path(program), tree)
