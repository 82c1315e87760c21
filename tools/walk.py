"""Which files of the workspace a tool may see: git's view when there is one, minus secrets."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Collection

from tools.gitcmd import run_git_bytes
from tools.paths import DEFAULT_SECRET_GLOBS, has_other_links, is_secret, is_users

# Directories a plain walk never enters (with git, .gitignore decides instead).
JUNK_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".idea", ".vscode", "dist", "build", ".eggs", ".cache",
})


@dataclass
class Listing:
    """Workspace-relative POSIX paths of visible files, sorted, and how many secrets were hidden."""

    paths: list[str] = field(default_factory=list)
    secrets_hidden: int = 0


def list_workspace(root: Path, sub: str = ".", glob: str | None = None,
                   secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS, user_files: Collection[str] = ()) -> Listing:
    """Files under `root/sub` that git does not ignore (or a walk skipping junk), minus secret files
    and the user's own untracked files (`user_files`: left alone by a run in place).

    `sub` must already be confined; `glob` matches the whole relative path when it contains a `/`,
    else the file name (so `*.py` finds Python files at any depth).
    """
    real_root = root.resolve()
    candidates = _git_files(real_root, sub)
    if candidates is None:
        candidates = _walk_files(real_root, sub)
    matcher = glob_matcher(glob) if glob else None
    listing = Listing()
    for rel in sorted(set(candidates)):
        if rel.split("/", 1)[0] == ".git":
            continue
        if matcher is not None and not matcher(rel):
            continue
        full = real_root / rel
        if not full.is_file():
            continue
        # A link is judged by the file it leads to: `alias.txt -> .env` is a secret file.
        target = _target(full, real_root)
        if target is None or (user_files and (is_users(rel, user_files) or is_users(target, user_files))):
            continue
        if is_secret(rel, secret_globs) or is_secret(target, secret_globs) or has_other_links(full):
            listing.secrets_hidden += 1
            continue
        listing.paths.append(rel)
    return listing


def _git_files(root: Path, sub: str) -> list[str] | None:
    """Tracked and untracked-but-not-ignored files, or None when `root` is not a git work tree."""
    try:
        proc = run_git_bytes(root, ("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", sub),
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    # Paths come relative to `root` even when it is a subdirectory of the repository.
    return [name for name in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if name]


def _walk_files(root: Path, sub: str) -> list[str]:
    start = root / sub
    if start.is_file():
        return [sub]
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(start):
        dirnames[:] = sorted(d for d in dirnames if d not in JUNK_DIRS and not d.endswith(".egg-info"))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        found.extend(prefix + name for name in filenames)
    return found


def _target(path: Path, root: Path) -> str | None:
    """The root-relative path of the file `path` resolves to; None when it leads out of `root` or into `.git`."""
    resolved = Path(os.path.realpath(path))
    if root not in resolved.parents:
        return None
    inside = resolved.relative_to(root).as_posix()
    return None if inside.split("/", 1)[0] == ".git" else inside


def glob_matcher(glob: str) -> Callable[[str], bool]:
    """A predicate on relative paths for a glob with `*`, `?`, `[...]` and `**`."""
    pattern = _glob_regex(glob.strip().removeprefix("./"))
    if "/" in glob.strip().removeprefix("./"):
        return lambda rel: pattern.fullmatch(rel) is not None
    return lambda rel: pattern.fullmatch(rel.rsplit("/", 1)[-1]) is not None


@lru_cache(maxsize=64)
def _glob_regex(glob: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 1:]:
            end = glob.index("]", i + 1)
            body = glob[i + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))
