"""What a sandboxed command sees of the host, deny by default.

The sandbox starts from an empty root and mounts only: the read-only system (`/usr`, `/etc`, `/opt`
and the like), a private `/tmp`, an empty `$HOME` with the toolchains and caches under it shown
read-only (their credential files hidden), the agent's own interpreter, the project's virtualenv
and dependency folders (read-only), folders the user lists in `sandbox_mounts`, the worktree
(writable, its git metadata read-only) and the repository's own toolchain caches (writable, see
`tools.sandbox_caches`). Nothing else of the host exists inside: not `/run`, `/var/run`, the host's
`/tmp`, `$XDG_RUNTIME_DIR`, `/home`, `/srv`, nor the user's own checkout, so no host socket (docker, dbus, ssh-agent, a database) and no untracked file of the user's is reachable.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tools.paths import SECRET_DIRS
from tools.project_env import ProjectEnv
from tools.sandbox_caches import CachePlan

# The system, shown read-only. Packages install no sockets here; services create theirs in /run,
# /var/run, /tmp and $HOME, none of which is mounted.
SYSTEM_DIRS: tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
                                "/nix", "/gnu", "/sys")
# Toolchains and package caches under $HOME, shown read-only when they exist.
HOME_TOOLCHAINS: tuple[str, ...] = (
    ".rustup", ".cargo", "go/pkg/mod", ".m2", ".gradle", ".npm", ".yarn", ".pnpm-store", ".bun", ".deno",
    ".pyenv", ".asdf", ".nvm", ".volta", ".sdkman", ".local/share/uv/python", ".cache/pypoetry/virtualenvs",
    ".local/share/virtualenvs", ".local/share/pnpm",
)
# Credential files inside those folders: hidden always ...
CREDENTIAL_FILES: tuple[str, ...] = (".cargo/credentials", ".cargo/credentials.toml", ".m2/settings-security.xml",
                                     ".local/share/uv/credentials")
# ... and configuration files hidden when they hold a credential (a Maven server password, a
# registry token); without one they stay, because builds need them (mirrors, JVM options).
CREDENTIAL_CONFIGS: tuple[str, ...] = (".m2/settings.xml", ".gradle/gradle.properties", ".cargo/config.toml",
                                       ".cargo/config", ".gradle/init.gradle")
HOLDS_CREDENTIAL = re.compile(r"password|passphrase|token|secret|privatekey|_auth", re.IGNORECASE)
# Folders under $HOME that many programs share: a PATH entry there is shown alone, not its whole top folder.
SHARED_HOME_DIRS = frozenset({".local", ".config", ".cache", ".var", "go"})

MountKind = Literal["ro", "rw", "tmpfs", "symlink", "hide"]


@dataclass(frozen=True)
class Mount:
    """One entry of the layout: `source` shown at `dest` (read-only or writable), an empty tmpfs,
    a symlink to `source`, or `dest` hidden behind an empty file."""

    kind: MountKind
    dest: str
    source: str = ""

    def argv(self) -> list[str]:
        if self.kind == "ro":
            return ["--ro-bind", self.source, self.dest]
        if self.kind == "rw":
            return ["--bind", self.source, self.dest]
        if self.kind == "symlink":
            return ["--symlink", self.source, self.dest]
        if self.kind == "hide":
            return ["--ro-bind", "/dev/null", self.dest] if not os.path.isdir(self.dest) else ["--tmpfs", self.dest]
        return ["--tmpfs", self.dest]


@dataclass(frozen=True)
class LayoutRequest:
    """What a layout depends on: the worktree, the project around it, and the host's toolchain."""

    cwd: Path
    home: Path | None
    search_path: str = ""
    extra_mounts: tuple[str, ...] = ()
    project: ProjectEnv = ProjectEnv()
    caches: CachePlan = CachePlan()
    hidden: tuple[str, ...] = ()  # worktree-relative paths shown empty and read-only (files) or empty (folders)


def sandbox_layout(request: LayoutRequest) -> list[Mount]:
    """The mounts, in order, that make the sandbox's file system (parents before children)."""
    cwd = Path(os.path.realpath(request.cwd))
    mounts = [Mount("tmpfs", "/tmp"), Mount("tmpfs", "/var/tmp")]
    if request.home is not None:
        mounts.append(Mount("tmpfs", str(request.home)))
    shown = _shown_dirs(request, cwd)
    mounts += [Mount("ro", str(path), str(path)) for path in shown]
    mounts += _credential_masks(request.home, shown)
    checkout = request.project.checkout
    if checkout is not None and any(_within(checkout, path) for path in (*map(Path, SYSTEM_DIRS), *shown)):
        mounts.append(Mount("tmpfs", str(checkout)))  # under a shown folder: hide it again
    mounts.append(Mount("rw", str(cwd), str(cwd)))
    mounts += [Mount("ro", str(path), str(path)) for path in _git_dirs(cwd)]
    # The user's own files in their checkout (a run in place): tests neither read nor change them.
    mounts += [Mount("hide", str(cwd / rel.rstrip("/"))) for rel in request.hidden
               if os.path.lexists(cwd / rel.rstrip("/")) and not os.path.islink(cwd / rel.rstrip("/"))]
    for source, dest in request.project.dependency_mounts(cwd):
        mounts.append(Mount("ro", str(dest), str(source)))
    if request.caches.root is not None:
        mounts.append(Mount("rw", str(request.caches.root), str(request.caches.root)))
        # A configuration file holding a credential stays hidden in its new place too.
        mounts += [Mount("ro", str(dest), str(source)) for source, dest in request.caches.shown
                   if not (source.is_file() and source.suffix != ".ok" and _holds_credential(source))]
    if request.home is not None:
        # The worktree may itself contain $HOME's credential folders (a repo at ~): hide them again.
        mounts += [Mount("tmpfs", str(request.home / name)) for name in SECRET_DIRS
                   if _within(request.home / name, cwd) and (request.home / name).is_dir()]
    # A mount hides what was mounted below its folder before it: mount parents first (a stable sort
    # keeps a folder's own hiding after the folder).
    return [*_system_mounts(), *sorted(mounts, key=lambda m: len(Path(m.dest).parts))]


def _system_mounts() -> list[Mount]:
    mounts = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):  # merged /usr: /bin -> usr/bin
            mounts.append(Mount("symlink", path, os.readlink(path)))
        elif os.path.isdir(path):
            mounts.append(Mount("ro", path, path))
    return mounts


def _shown_dirs(request: LayoutRequest, cwd: Path) -> tuple[Path, ...]:
    """Host folders shown read-only besides the system: toolchains, the interpreter, the venv, extras."""
    wanted: list[Path] = []
    home = request.home
    if home is not None:
        wanted += [home / rel for rel in HOME_TOOLCHAINS if (home / rel).is_dir()]
    entries = [*_interpreter_paths(), *request.search_path.split(os.pathsep), *request.project.toolchain_paths()]
    forbidden = [p for p in (home, request.project.checkout, cwd) if p is not None]
    for entry in entries:
        chosen = _toolchain_folder(entry, home, forbidden, request.project)
        if chosen is not None:
            wanted.append(chosen)
    wanted += [Path(os.path.realpath(extra)) for extra in request.extra_mounts if os.path.exists(extra)]
    for read in request.caches.reads:  # the user's caches a toolchain layers under its own
        chosen = _toolchain_folder(str(read), home, forbidden, request.project)
        if chosen is not None:
            wanted.append(chosen)
    system = [Path(p) for p in SYSTEM_DIRS]
    kept: list[Path] = []
    for path in wanted:
        if path not in kept and not any(_within(path, s) for s in system):
            kept.append(path)
    # Nested choices are covered by their parents; bind each tree once.
    return tuple(p for p in kept if not any(other != p and _within(p, other) for other in kept))


@functools.cache
def _interpreter_paths() -> tuple[str, ...]:
    """The agent's own interpreter and import path (a venv, pyenv, editable installs); fixed for the process."""
    return (sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable), *sys.path)


def _toolchain_folder(entry: str, home: Path | None, forbidden: list[Path], project: ProjectEnv) -> Path | None:
    """The folder to show for one interpreter or PATH entry, or None when it must stay hidden.

    Under $HOME a tool's whole top folder is shown (~/.pyenv), except in shared folders and the
    credential folders; elsewhere only the entry itself. Never the user's checkout (only its
    virtualenv and dependency folders), never a folder that holds $HOME, the checkout or the worktree.
    """
    if not entry or not os.path.isabs(entry):
        return None
    path = Path(os.path.realpath(entry))
    if not path.exists() or any(_within(other, path) for other in forbidden):
        return None
    if project.checkout is not None and _within(path, project.checkout) and not project.is_dependency(path):
        return None
    if home is not None and _within(path, home):
        top = path.relative_to(home).parts[0]
        if top in SECRET_DIRS:
            return None
        return path if top in SHARED_HOME_DIRS else home / top
    return path


def _credential_masks(home: Path | None, shown: tuple[Path, ...]) -> list[Mount]:
    if home is None:
        return []
    masks = []
    for rel in (*CREDENTIAL_FILES, *CREDENTIAL_CONFIGS):
        path = home / rel
        if not any(_within(path, folder) for folder in shown) or not path.exists():
            continue
        if rel in CREDENTIAL_CONFIGS and not _holds_credential(path):
            continue
        masks.append(Mount("hide", str(path)))
    return masks


def _holds_credential(path: Path) -> bool:
    try:
        return bool(HOLDS_CREDENTIAL.search(path.read_text(errors="replace")))
    except OSError:
        return True  # unreadable: hide it rather than guess


def _git_dirs(cwd: Path) -> list[Path]:
    """`.git` of the worktree, and for a linked worktree (`.git` is a file) the repository it points into."""
    dot_git = cwd / ".git"
    if not dot_git.exists():
        return []
    found = [dot_git]
    if dot_git.is_file():
        text = dot_git.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.removeprefix("gitdir:").strip())
            gitdir = gitdir if gitdir.is_absolute() else (cwd / gitdir)
            common = Path(os.path.realpath(gitdir / ".." / ".."))  # <repo>/.git/worktrees/<name>
            if common.is_dir() and common != cwd and cwd not in common.parents:
                found.append(common)
    return found


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def bwrap_mount_args(mounts: list[Mount]) -> list[str]:
    """The bubblewrap arguments for `mounts`, then the root made read-only."""
    argv = ["--dev", "/dev", "--proc", "/proc"]
    for mount in mounts:
        argv += mount.argv()
    return [*argv, "--remount-ro", "/"]
