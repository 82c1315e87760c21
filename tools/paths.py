"""Every path a tool touches goes through here: confined to the workspace, never into `.git`,
never a secret file."""

from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path, PurePath, PurePosixPath
from typing import Collection

from tools.gitcmd import run_git_bytes

# Files whose contents must never be read, searched, or sent to a model.
DEFAULT_SECRET_GLOBS: tuple[str, ...] = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*",
    "id_ed25519*", ".netrc", ".pgpass", ".npmrc", ".pypirc", "credentials", "credentials.json",
    ".git-credentials", "*.keystore", "*.jks", "secrets.yaml", "secrets.yml", ".htpasswd",
)
# Credential files recognised by their folder (cloud CLIs keep them under these).
SECRET_DIRS: tuple[str, ...] = (".aws", ".gcloud", ".azure", ".ssh", ".gnupg", ".docker", ".kube")


class PathRefused(ValueError):
    """A path the model asked for is outside the workspace, inside `.git`, or a secret file."""


def is_secret(rel: str | PurePosixPath, globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS) -> bool:
    """True when the workspace-relative path names a file on the secrets deny-list."""
    parts = PurePosixPath(rel).parts
    if any(part in SECRET_DIRS for part in parts[:-1]):
        return True
    name = parts[-1] if parts else ""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in globs)


def is_users(rel: str, user_files: Collection[str]) -> bool:
    """True when `rel` is one of the user's untracked files, or inside one of their untracked `folder/`s
    (or below one of their files, a path no write could make)."""
    return any(rel == name.rstrip("/") or rel.startswith(name.rstrip("/") + "/") for name in user_files)


def confine(root: Path, rel: str, *, secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS,
            allow_git: bool = False, writing: bool = False, user_files: Collection[str] = ()) -> Path:
    """The absolute path for workspace-relative `rel`, or PathRefused saying why not.

    Refuses absolute paths, `..` escapes, symlinks (at any level) that resolve outside `root`,
    anything inside `.git`, secret files, the user's own untracked files (`user_files`, a run in
    place), and files with other hard links. The target need not exist. `writing`: also anything
    inside a nested repository or a submodule, whose files the run's commits cannot hold.
    """
    if not rel or not rel.strip():
        raise PathRefused("empty path")
    if "\x00" in rel:
        raise PathRefused(f"{rel!r}: path contains a NUL byte")
    posix = PurePosixPath(rel.replace("\\", "/"))
    if posix.is_absolute() or (len(rel) > 1 and rel[1] == ":"):
        raise PathRefused(f"{rel}: absolute paths are not allowed; use a path relative to the repository root")
    if ".." in posix.parts:
        raise PathRefused(f"{rel}: '..' is not allowed; paths must stay inside the repository")
    real_root = root.resolve()
    target = real_root.joinpath(*posix.parts) if posix.parts not in ((), (".",)) else real_root
    resolved = Path(os.path.realpath(target))
    if resolved != real_root and real_root not in resolved.parents:
        raise PathRefused(f"{rel}: resolves outside the repository (through a symlink)")
    inside = resolved.relative_to(real_root)
    if not allow_git and inside.parts and inside.parts[0] == ".git":
        raise PathRefused(f"{rel}: the .git directory is off limits")
    if inside.parts and is_secret(PurePosixPath(*inside.parts), secret_globs):
        where = "" if inside.as_posix() == posix.as_posix() else f" (it leads to {inside.as_posix()})"
        raise PathRefused(f"{rel}: secret files (keys, credentials, .env) are never read or written{where}")
    if user_files and inside.parts and any(is_users(p, user_files) for p in {inside.as_posix(), posix.as_posix()}):
        raise PathRefused(f"{rel}: an untracked file of the user's, there before this run started in their checkout; "
                          "the run leaves it alone (never read, written or committed): use another path")
    if writing:
        _refuse_other_repository(real_root, inside, rel)
    if has_other_links(resolved):
        raise PathRefused(f"{rel}: the file has other hard links, so its content may be another file's "
                          "(a secret); it is not opened")
    return resolved


def has_other_links(path: Path) -> bool:
    """True for a regular file with more than one hard link: its name says nothing of whose content it is.
    (git never makes one in a checkout; a test run or a user can.)"""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_nlink > 1


def _refuse_other_repository(root: Path, inside: PurePath, rel: str) -> None:
    """PathRefused when a folder on the way to `inside` is another repository: a nested one (it has
    its own `.git`) or a submodule of this one (a gitlink in HEAD, checked out or not)."""
    if ".git" in inside.parts:
        raise PathRefused(f"{rel}: .git folders are off limits")
    folders = [PurePosixPath(*inside.parts[:depth]) for depth in range(1, len(inside.parts))]
    for folder in folders:
        if (root / folder / ".git").exists():
            raise PathRefused(f"{rel}: {folder} is a nested git repository (it has its own .git); the run's "
                              "commits cannot hold its files, so nothing inside it is written")
    # A submodule's folder is empty until it is checked out (and then has its .git); only an empty
    # or missing folder can be one, so only those are asked of git.
    unsure = [f for f in folders if not (root / f).is_dir() or not any((root / f).iterdir())]
    if not unsure:
        return
    listed = run_git_bytes(root, ("ls-tree", "-z", "HEAD", "--", *(f":(literal){f}" for f in unsure)))
    for entry in listed.stdout.split(b"\0"):
        if entry.startswith(b"160000 "):
            folder = entry.partition(b"\t")[2].decode("utf-8", "replace")
            raise PathRefused(f"{rel}: {folder} is a git submodule, another repository; the run's commits "
                              "cannot hold its files, so nothing inside it is written")
