"""The run's git workspace: its own branch in its own worktree, so the user's checkout is never touched.

Every operation is a plain git command (see `agent.gitrepo` for why not GitPython).
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.errors import AgentError, UserError
from agent.inplace import require_clean, user_untracked
from agent.runnames import BRANCH_PREFIX, new_branch_name
from agent.gitrepo import Checkout, audit_config, failure, git, git_ok, locate, open_repo, run_git
from tools.paths import DEFAULT_SECRET_GLOBS, SECRET_DIRS, PathRefused, confine, has_other_links

AGENT_DIR = ".agent"
FALLBACK_NAME = "glm-agent"
FALLBACK_EMAIL = "agent@localhost"

# The user's diff settings (noprefix, external drivers, colour) must not change what a critic
# reads or what a patch file applies as.
_DIFF_FLAGS = ("--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--src-prefix=a/", "--dst-prefix=b/")
# Never staged, committed or shown: caches the test runs leave behind, secret files (the built-in
# patterns and the user's secret_globs), and the user's own untracked files of a run in place.
CACHES = (":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/.pytest_cache/**")


def user_pathspecs(user_files: tuple[str, ...]) -> tuple[str, ...]:
    """Pathspecs that leave out the user's untracked files (a `folder/` entry: everything in it)."""
    return tuple(f":(exclude,literal){name}" for name in user_files)


def excluded(secret_globs: tuple[str, ...], user_files: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The pathspecs of what no commit, diff or staging of the run includes."""
    return (*CACHES, *(f":(exclude,glob)**/{pattern}" for pattern in secret_globs),
            *(f":(exclude,glob)**/{folder}/**" for folder in SECRET_DIRS), *user_pathspecs(user_files))


def ensure_excluded(checkout: Checkout, entry: str = f"{AGENT_DIR}/") -> None:
    """Add `entry` to the repository's `info/exclude` once, creating the file when missing."""
    exclude = checkout.common_dir / "info" / "exclude"
    text = exclude.read_text() if exclude.exists() else ""
    if entry in (line.strip() for line in text.splitlines()):
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    # Append, never rewrite: two runs starting at once may both add the line, but neither can drop
    # the user's own patterns.
    prefix = "\n" if text and not text.endswith("\n") else ""
    with exclude.open("a") as handle:
        handle.write(f"{prefix}{entry}\n")


def _worktrees_dir(repo_root: Path) -> Path:
    return repo_root / AGENT_DIR / "worktrees"


def run_worktree(repo_root: Path, run_id: str) -> Path:
    """Where run `run_id` checks out its branch: `.agent/worktrees/<id>/<repository name>`. The folder
    carries the repository's name because build files name targets after their folder (CMake)."""
    return _worktrees_dir(repo_root) / run_id / (repo_root.name or "repo")


@contextmanager
def _worktree_lock(repo_root: Path) -> Iterator[None]:
    """Held while git adds, prunes or removes a worktree of this repository.

    git does not serialise these itself: one `worktree add` reads the admin folder another is
    still writing ("failed to read .git/worktrees/…/commondir"). A file lock covers the jobs of a
    batch and separate runs alike, and is released if its process dies.
    """
    path = repo_root / AGENT_DIR / "worktrees.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class BranchTaken(UserError):
    """The run's branch name is taken: the branch is someone else's, never removed by a failed start."""


def _create_branch(repo_root: Path, run_id: str, branch: str, *args: str) -> None:
    """`git ARGS`, a command that creates `branch`; git's refusal of the name becomes a UserError."""
    proc = run_git(repo_root, args, None)
    if proc.returncode == 0:
        return
    if "already exists" in proc.stderr and branch in proc.stderr:
        raise BranchTaken(f"branch {branch} already exists; remove it with `agent undo {run_id}` or pick another run")
    if "not a valid branch name" in proc.stderr:
        raise UserError(f"cannot use {branch!r} as a branch name")
    raise failure(repo_root, args, proc)


@dataclass
class GitWorkspace:
    """One run's branch and the directory it is checked out in (a worktree, or the user's checkout)."""

    repo_root: Path
    run_id: str
    branch: str
    root: Path
    base_commit: str
    mode: Literal["worktree", "in_place"] = "worktree"
    secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS  # never staged, committed or shown
    user_files: tuple[str, ...] = ()  # in place: the user's untracked files when the run started

    @property
    def excluded(self) -> tuple[str, ...]:
        return excluded(self.secret_globs, self.user_files)

    @classmethod
    def create(cls, repo: Path | Checkout, run_id: str, slug: str) -> GitWorkspace:
        """A new branch from HEAD checked out in `.agent/worktrees/<id>`; the user's checkout is not touched.

        `repo` is a path in the repository, or its checkout as `locate` just found it.
        """
        return cls.planned(repo, run_id, slug).make()

    @classmethod
    def planned(cls, repo: Path | Checkout, run_id: str, slug: str, *, in_place: bool = False,
                secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS) -> GitWorkspace:
        """The workspace `make` creates, named and checked but not made: no branch, no worktree yet.

        A run journals its start between the two, so that a run killed while git makes them can
        still be found and continued. `in_place`: the branch is checked out in the user's own
        checkout, whose tracked files must be unchanged; its untracked files stay the user's.
        """
        checkout = repo if isinstance(repo, Checkout) else locate(repo)
        ensure_excluded(checkout)
        branch = new_branch_name(run_id, slug)
        if in_place:
            audit_config(checkout.root, checkout.root)
            require_clean(checkout.root)
            return cls(checkout.root, run_id, branch, checkout.root, checkout.head, "in_place", secret_globs,
                       user_untracked(checkout.root))
        worktree = run_worktree(checkout.root, run_id)
        if worktree.exists():
            raise UserError(f"{worktree} already exists; remove it or pick another run id")
        return cls(checkout.root, run_id, branch, worktree, checkout.head, "worktree", secret_globs)

    def make(self) -> GitWorkspace:
        """Create the branch at the base commit and check it out (in the worktree, or in place); returns self."""
        if self.mode == "in_place":
            _create_branch(self.root, self.run_id, self.branch, "checkout", "--quiet", "-b", self.branch)
            return self
        self.root.parent.mkdir(parents=True, exist_ok=True)
        try:
            with _worktree_lock(self.repo_root):
                _create_branch(self.repo_root, self.run_id, self.branch, "worktree", "add", "--quiet", "-b",
                               self.branch, str(self.root), self.base_commit)
            audit_config(self.root, self.root)
        except BranchTaken:
            raise
        except AgentError:
            # A failed checkout (a filter that is not installed) leaves git's branch and worktree
            # records behind; a failed start leaves nothing.
            undo(self.repo_root, self.run_id, self.branch, self.root)
            raise
        return self

    @classmethod
    def in_place(cls, repo_root: Path, run_id: str, slug: str) -> GitWorkspace:
        """A new branch from HEAD checked out in the user's own checkout, which must be clean."""
        return cls.planned(repo_root, run_id, slug, in_place=True).make()

    @classmethod
    def attach(cls, repo_root: Path, run_id: str, branch: str, worktree_path: Path, base_commit: str, *,
               remake: bool = False, secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS,
               user_files: tuple[str, ...] = ()) -> GitWorkspace:
        """The workspace of an existing run, to resume it; a deleted worktree is checked out again.

        With `remake` (a run that has committed nothing), a branch that is missing because the run
        died while git was making it is made again at the base commit. `user_files`: the untracked
        files the user had when a run in place started.
        """
        repo_root = open_repo(repo_root)
        worktree_path = Path(worktree_path)
        mode: Literal["worktree", "in_place"] = "in_place" if _same(worktree_path, repo_root) else "worktree"
        checked_out = mode == "in_place" or (worktree_path / ".git").exists()
        if not checked_out:
            _clear_half_made(repo_root, worktree_path)
        if not git_ok(repo_root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"):
            if not (remake and mode == "worktree"):
                raise UserError(f"branch {branch} of run {run_id} no longer exists; the run cannot be resumed")
            return cls(repo_root, run_id, branch, worktree_path, base_commit, secret_globs=secret_globs).make()
        if not checked_out:
            worktree_path.parent.mkdir(parents=True, exist_ok=True)
            with _worktree_lock(repo_root):
                git(repo_root, "worktree", "add", "--quiet", str(worktree_path), branch)
        workspace = cls(repo_root, run_id, branch, worktree_path, base_commit, mode, secret_globs,
                        user_files if mode == "in_place" else ())
        workspace._require_on_branch()
        audit_config(worktree_path, worktree_path)
        return workspace

    def head(self) -> str:
        """The sha of the run branch's last commit."""
        return git(self.root, "rev-parse", "--verify", "HEAD^{commit}").strip()

    def diff(self, base: str | None = None, *, staged: Path | None = None) -> str:
        """Unified diff of the working tree, untracked files included, against `base` (default: the last commit).

        With `staged`, the tree is staged in that index file and kept there, for `commit` to commit
        exactly the tree this diff shows.
        """
        with self._snapshot_index(staged) as env:
            return git(self.root, "diff", "--cached", *_DIFF_FLAGS, base or "HEAD", "--", ".", *self.excluded, env=env)

    def changed_files(self, base: str | None = None) -> list[str]:
        """Paths that differ between `base` (default: the last commit) and the working tree, untracked included."""
        with self._snapshot_index() as env:
            out = git(self.root, "diff", "--cached", "--no-renames", "--name-only", "-z", base or "HEAD",
                      "--", ".", *self.excluded, env=env)
        return sorted(name for name in out.split("\0") if name)

    def commit(self, message: str, trailers: dict[str, str], *, staged: Path | None = None) -> str:
        """Commit with `trailers` (empty when nothing changed) and return the sha: the tree `diff`
        kept in `staged` when that file exists, files changed since left as they are; else
        everything, staged now."""
        self._require_on_branch()
        judged = staged if staged is not None and staged.is_file() else None
        if judged is None:
            self._stage_all(None)
        # No hook, no signing program, no automatic maintenance: every git command runs without
        # them (tools.gitcmd); --no-verify says so once more where it matters most.
        git(self.root, *self._identity, "commit", "--quiet", "--no-verify",
            "--allow-empty", "--cleanup=whitespace", "-m", _commit_message(message, trailers),
            env={"GIT_INDEX_FILE": str(judged)} if judged is not None else None)
        if judged is not None:
            git(self.root, "reset", "--quiet")  # the checkout's own index now matches the new commit
            judged.unlink()
        return self.head()

    def reset_to(self, sha: str) -> None:
        """Hard-reset the run's checkout to `sha` and drop untracked files, to retry a step from there;
        the user's own untracked files stay.

        Only for changes the run itself made: `agent.restore` decides that before calling it.
        """
        self._require_on_branch()
        git(self.root, "reset", "--quiet", "--hard", sha)
        git(self.root, "clean", "--quiet", "-d", "--force", "--", ".", ":(exclude).agent",
            *user_pathspecs(self.user_files))

    def stash(self, message: str) -> str:
        """Save every uncommitted change, untracked files included (not the user's own), as a git
        stash entry; its sha."""
        git(self.root, *self._identity, "stash", "push", "--quiet", "--include-untracked", "--message", message,
            "--", ".", *user_pathspecs(self.user_files))
        return git(self.root, "rev-parse", "--verify", "refs/stash").strip()

    def remove(self) -> list[str]:
        """Delete this run's worktree and branch; see `undo`."""
        return undo(self.repo_root, self.run_id, self.branch, self.root)

    def _require_on_branch(self) -> None:
        current = git(self.root, "rev-parse", "--abbrev-ref", "HEAD").strip()
        if current != self.branch:
            raise UserError(f"{self.root} is on {current}, not the run's branch {self.branch}; "
                            f"switch back with `git switch {self.branch}` first")

    @functools.cached_property
    def _identity(self) -> tuple[str, ...]:
        """`-c user.name=… -c user.email=…` for whichever the user has not configured (asked once a run)."""
        listed = run_git(self.root, ("config", "--get-regexp", r"^user\.(name|email)$"), None).stdout
        configured = {key for key, _, value in (line.partition(" ") for line in listed.splitlines()) if value.strip()}
        flags: list[str] = []
        for key, fallback in (("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL)):
            if key not in configured:
                flags += ["-c", f"{key}={fallback}"]
        return tuple(flags)

    @functools.cached_property
    def _index_path(self) -> Path:
        """This checkout's own index file (a worktree has one of its own under the common dir)."""
        return self.root / git(self.root, "rev-parse", "--git-path", "index").strip()  # relative or absolute

    @contextmanager
    def _snapshot_index(self, keep: Path | None = None) -> Iterator[dict[str, str]]:
        """Env for git commands that see every file of the checkout staged, in a throwaway index
        (or in `keep`, which outlives the context)."""
        index = self._index_path
        with tempfile.TemporaryDirectory(prefix="agent-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(keep or Path(tmp) / "index")}
            if index.exists():
                # copy2 keeps the index file's mtime, which git's racy-clean check needs: with a fresh
                # mtime, a same-size edit made in the second of the checkout would look unchanged.
                shutil.copy2(index, env["GIT_INDEX_FILE"])
            else:
                git(self.root, "read-tree", "HEAD", env=env)
            self._stage_all(env)
            yield env

    def _stage_all(self, env: dict[str, str] | None) -> None:
        """Stage every file of the checkout, except nested repositories (a test run's `git init`:
        their files belong to another repository) and files whose content is another file's: a
        link leading out of the checkout, into `.git` or to a secret, or a file with other hard links."""
        untracked = git(self.root, "ls-files", "--others", "--exclude-standard", "-z", "--", ".", *self.excluded,
                        env=env)
        nested = [name for name in untracked.split("\0") if name.endswith("/")]  # git lists a repository as a folder
        git(self.root, "add", "--all", "--", ".", *self.excluded, *(f":(exclude,literal){name}" for name in nested),
            env=env)
        raw = git(self.root, "diff", "--cached", "--raw", "-z", "--no-renames", "HEAD", "--", ".", *self.excluded,
                  env=env)
        fields = raw.split("\0")
        staged = [path for meta, path in zip(fields[::2], fields[1::2]) if not meta.endswith("D")]
        unjudgeable = [path for path in staged if _content_elsewhere(self.root, path)]
        if unjudgeable:
            git(self.root, "reset", "--quiet", "HEAD", "--", *(f":(literal){path}" for path in unjudgeable), env=env)


def _clear_half_made(repo_root: Path, worktree: Path) -> None:
    """What a run that died inside `git worktree add` left: git's record of the worktree, and a
    folder without its `.git` (inside the run worktrees folder only, where it is the run's own)."""
    with _worktree_lock(repo_root):
        if worktree.exists() and _is_inside(worktree, _worktrees_dir(repo_root)):
            shutil.rmtree(worktree)
        git(repo_root, "worktree", "prune")


def _content_elsewhere(root: Path, rel: str) -> bool:
    """Whether `rel` is a link the tools would refuse (out of `root`, into `.git`, to a secret) or a
    file with other hard links: committing it would commit another file's content, or a path to it."""
    path = root / rel
    if path.is_symlink():
        try:
            confine(root, rel)
        except PathRefused:
            return True
        return False
    return has_other_links(path)


def _commit_message(message: str, trailers: dict[str, str]) -> str:
    """`message`, then a blank line and one `Key: value` trailer per line."""
    subject = message.strip() or "agent step"
    lines = []
    for key, value in trailers.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", key):
            raise ValueError(f"invalid trailer key {key!r}")
        lines.append(f"{key}: {' '.join(str(value).split())}")
    return f"{subject}\n\n" + "\n".join(lines) + "\n" if lines else f"{subject}\n"


def _same(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def undo(repo_root: Path, run_id: str, branch: str, worktree: Path | None = None) -> list[str]:
    """Remove the run's worktree and force-delete its branch, nothing else; what was done, one line each.

    Safe to repeat, and works when the worktree directory was already deleted by hand.
    """
    repo_root = open_repo(repo_root)
    if not branch.startswith(BRANCH_PREFIX):
        raise UserError(f"refusing to delete {branch}: only {BRANCH_PREFIX}* branches belong to runs")
    done: list[str] = []
    worktree = Path(worktree) if worktree is not None else _worktrees_dir(repo_root) / run_id
    if _same(worktree, repo_root):
        if git(repo_root, "rev-parse", "--abbrev-ref", "HEAD").strip() == branch:
            raise UserError(f"{branch} is checked out in {repo_root}; switch to another branch, then undo")
    elif _is_inside(worktree, _worktrees_dir(repo_root)):
        with _worktree_lock(repo_root):
            if (worktree / ".git").exists():
                git(repo_root, "worktree", "remove", "--force", str(worktree))
                done.append(f"removed worktree {worktree}")
            git(repo_root, "worktree", "prune")
        if worktree.exists():  # a leftover directory git no longer knows as a worktree
            shutil.rmtree(worktree)
            done.append(f"removed directory {worktree}")
        run_folder = worktree.parent
        if run_folder.name == run_id and _same(run_folder.parent, _worktrees_dir(repo_root)) and run_folder.is_dir():
            shutil.rmtree(run_folder)  # the run's folder around its worktree: nothing else lives there
    else:
        raise UserError(f"refusing to remove {worktree}: run worktrees live under {_worktrees_dir(repo_root)}")
    if git_ok(repo_root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"):
        git(repo_root, "branch", "--quiet", "-D", branch)
        done.append(f"deleted branch {branch}")
    return done


def _is_inside(path: Path, folder: Path) -> bool:
    real, real_folder = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return real_folder in real.parents
