"""The project's own environment, found from the worktree: the user's checkout it was made from, the
project's virtualenv, and the dependency folders (node_modules and the like) installed in the checkout.

A run's worktree is a fresh checkout of committed files: what the user installed next to the code
(`npm install`, `uv sync`) lives only in the user's checkout. The sandbox shows those folders in the
worktree, read-only, and puts the project's virtualenv first on PATH.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

VENV_NAMES: tuple[str, ...] = (".venv", "venv")
# Dependency folders a package manager installs next to the code and git ignores.
DEPENDENCY_NAMES: tuple[str, ...] = ("node_modules", "bower_components", *VENV_NAMES)
# Monorepos install per package (packages/web/node_modules): look this many folders deep.
DEPENDENCY_DEPTH = 2
_SKIP = frozenset({".git", ".agent", *DEPENDENCY_NAMES})


@dataclass(frozen=True)
class ProjectEnv:
    """What the sandbox shows of the project beyond its worktree."""

    checkout: Path | None = None  # the user's checkout, when the worktree is a linked one
    venv: Path | None = None  # the project's virtualenv
    dependencies: tuple[Path, ...] = ()  # dependency folders in the checkout, relative to it
    # For a scratch copy of a worktree: that worktree, and the dependency folders its setup installed
    # in it (relative to it), shown in the copy before the checkout's.
    origin: Path | None = None
    origin_dependencies: tuple[Path, ...] = ()

    def toolchain_paths(self) -> tuple[str, ...]:
        """The virtualenv and the interpreter it was made from (pyvenv.cfg's `home`, followed)."""
        if self.venv is None:
            return ()
        python = self.venv / "bin" / "python"
        base = os.path.dirname(os.path.realpath(python)) if python.exists() else ""
        return (str(self.venv), base)

    def is_dependency(self, path: Path) -> bool:
        """Whether `path` lies in the virtualenv or a dependency folder of the checkout."""
        roots = [*(self.checkout / rel for rel in self.dependencies if self.checkout), *([self.venv] if self.venv else []),
                 *(self.origin / rel for rel in self.origin_dependencies if self.origin)]
        return any(path == root or root in path.parents for root in roots)

    def dependency_mounts(self, worktree: Path) -> list[tuple[Path, Path]]:
        """(checkout folder, worktree folder) for each dependency folder the worktree lacks; for a
        scratch copy, the copied worktree's own folders first."""
        own = [(self.origin / rel, worktree / rel) for rel in self.origin_dependencies
               if self.origin is not None and _lacks(worktree / rel)]
        if self.checkout is None:
            return own
        shown = {dest for _, dest in own}
        return [*own, *((self.checkout / rel, worktree / rel) for rel in self.dependencies
                        if worktree / rel not in shown and _lacks(worktree / rel))]

    def for_copy(self, worktree: Path) -> "ProjectEnv":
        """This environment (found from `worktree`) for a scratch copy of `worktree`."""
        origin = Path(os.path.realpath(worktree))
        return dataclasses.replace(self, origin=origin, origin_dependencies=_dependency_folders(origin))

    def path_entries(self) -> list[str]:
        """What goes first on PATH: the virtualenv's scripts."""
        return [str(self.venv / "bin")] if self.venv is not None else []


def find_project_env(worktree: Path, home: Path | None) -> ProjectEnv:
    """The checkout, virtualenv and dependency folders of the project checked out at `worktree`."""
    worktree = Path(os.path.realpath(worktree))
    checkout = checkout_of(worktree)
    dependencies = _dependency_folders(checkout) if checkout is not None else ()
    venv = next((root / name for root in (worktree, checkout) if root is not None for name in VENV_NAMES
                 if (root / name / "pyvenv.cfg").is_file()), None)
    if venv is None and home is not None:
        venv = _poetry_venv(checkout or worktree, home)
    return ProjectEnv(checkout, venv, dependencies)


def project_python(worktree: Path, home: Path | None) -> Path | None:
    """The project virtualenv's interpreter when it has pytest installed, else None."""
    venv = find_project_env(worktree, home).venv
    if venv is None or not (venv / "bin" / "python").exists():
        return None
    if not any(venv.glob("lib/python3*/site-packages/pytest")):
        return None
    return venv / "bin" / "python"


def checkout_of(worktree: Path) -> Path | None:
    """The user's checkout a linked worktree belongs to (its `.git` file points into `<checkout>/.git`)."""
    dot_git = worktree / ".git"
    if not dot_git.is_file():
        return None
    text = dot_git.read_text(errors="replace").strip()
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(text.removeprefix("gitdir:").strip())
    gitdir = gitdir if gitdir.is_absolute() else worktree / gitdir
    common = Path(os.path.realpath(gitdir / ".." / ".."))  # <checkout>/.git/worktrees/<name>
    if common.name != ".git" or not common.is_dir():
        return None  # a bare repository: no checkout to speak of
    return common.parent


def _dependency_folders(checkout: Path) -> tuple[Path, ...]:
    found: list[Path] = []
    level = [checkout]
    for _ in range(DEPENDENCY_DEPTH + 1):
        deeper: list[Path] = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
            except OSError:
                continue
            found += [p.relative_to(checkout) for p in children if p.name in DEPENDENCY_NAMES]
            deeper += [p for p in children if p.name not in _SKIP and not p.name.startswith(".")]
        level = deeper
    return tuple(found)


def _lacks(folder: Path) -> bool:
    """True when the worktree has no such folder, or only an empty one (a mount point left behind)."""
    try:
        return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))
    except OSError:
        return False


def _poetry_venv(project: Path, home: Path) -> Path | None:
    """Poetry's environment for `project`, named `<name>-<hash of the path>-py<version>` in its cache."""
    try:
        pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    tool = pyproject.get("tool", {})
    name = (tool.get("poetry", {}) if isinstance(tool, dict) else {}).get("name") or pyproject.get("project", {}).get("name")
    if not isinstance(name, str):
        return None
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", name.lower())[:42]
    digest = base64.urlsafe_b64encode(hashlib.sha256(str(project).encode()).digest()).decode()[:8]
    found = sorted((home / ".cache" / "pypoetry" / "virtualenvs").glob(f"{sanitized}-{digest}-py*"))
    return found[-1] if found else None
