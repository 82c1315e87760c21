"""Writable build and package caches for sandboxed commands: one set per repository, never the user's.

Toolchains keep compiled packages and downloads in caches under `$HOME`. Inside the sandbox `$HOME`
is empty, so without help every test run starts cold (Go recompiles the standard library each time),
and the user's own caches are shown read-only, so a setup command cannot download. Giving sandboxed
code the user's caches writable would let one test run poison what the user's own builds read
later. So each toolchain gets its caches in the repository's `.agent/cache/` (writable, kept across
the runs of that repository, shared by nobody else), and reads the user's caches, read-only, only
where the toolchain knows how to layer a read-only cache under a writable one:

- Go: `GOCACHE` (build and test results) is the repository's own. `GOMODCACHE` too, filled from the
  user's module cache through `GOPROXY=file://…` (offline), then from the user's proxy when the
  network is on (a setup command's `go mod download`). `-modcacherw` keeps the folder removable.
- Gradle: `GRADLE_USER_HOME` is the repository's own; the user's dependency cache is Gradle's
  read-only `GRADLE_RO_DEP_CACHE`; the wrapper's distributions and `gradle.properties` are shown
  read-only inside the new home.
- Maven 3.9+: the local repository is the repository's own, the user's `~/.m2/repository` its
  read-only tail (`MAVEN_ARGS`, which older Maven ignores: there the user's stays read-only).
- npm, Yarn 1, pip, uv, ccache: their download caches are the repository's own.
- Cargo is left alone: its `target/` is in the worktree (reused across a run's test runs) and its
  registry is shown read-only (tests run offline).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tools.project_env import checkout_of

CACHE_DIR = Path(".agent") / "cache"
DEFAULT_GOPROXY = "https://proxy.golang.org,direct"
# Simple download caches: the variable each tool reads, and the folder it gets.
SIMPLE_CACHES: dict[str, str] = {"npm_config_cache": "npm", "YARN_CACHE_FOLDER": "yarn", "PIP_CACHE_DIR": "pip",
                                 "UV_CACHE_DIR": "uv", "CCACHE_DIR": "ccache"}


@dataclass(frozen=True)
class CachePlan:
    """The writable cache folder to bind, the variables pointing tools into it, and host folders
    shown read-only inside it (source, destination)."""

    root: Path | None = None
    variables: dict[str, str] = field(default_factory=dict)
    shown: tuple[tuple[Path, Path], ...] = ()
    reads: tuple[Path, ...] = ()  # the user's caches the tools read (must be visible, read-only)


def repository_cache(cwd: Path) -> Path | None:
    """`.agent/cache` of the repository `cwd` belongs to: the user's checkout for a run's worktree,
    `cwd` itself when it holds `.agent/`; None for a folder that is no agent's repository."""
    cwd = Path(os.path.realpath(cwd))
    repository = checkout_of(cwd)
    if repository is None and (cwd / ".agent").is_dir():
        repository = cwd
    if repository is None:
        return None
    agent_dir = repository / ".agent"
    root = repository / CACHE_DIR
    # A symlink here (sandboxed code can write .agent/ of an in-place run) would point the
    # writable mount at a folder of the user's choosing: no cache then.
    if agent_dir.is_symlink() or root.is_symlink() or not agent_dir.is_dir():
        return None
    root.mkdir(exist_ok=True)
    return root


def cache_plan(cwd: Path, home: Path | None, env: Mapping[str, str]) -> CachePlan:
    """The caches for a command run in `cwd`, `env` being its (scrubbed) environment."""
    root = repository_cache(cwd)
    if root is None:  # no repository to keep caches in: npm still needs a writable one (~/.npm is not)
        return CachePlan(variables={"npm_config_cache": "/tmp/npm-cache"})
    variables = {name: str(root / folder) for name, folder in SIMPLE_CACHES.items()}
    go_vars, go_reads = _go(root, home, env)
    gradle_vars, gradle_shown, gradle_reads = _gradle(root, home, env)
    variables |= go_vars | gradle_vars | _maven(root, home, cwd, env)
    maven_repo = home / ".m2" / "repository" if home is not None else None
    reads = (*go_reads, *gradle_reads, *([maven_repo] if maven_repo is not None and maven_repo.is_dir() else []))
    return CachePlan(root, variables, gradle_shown, reads)


def _go(root: Path, home: Path | None, env: Mapping[str, str]) -> tuple[dict[str, str], list[Path]]:
    variables = {"GOCACHE": str(root / "go-build"), "GOMODCACHE": str(root / "go-mod")}
    flags = env.get("GOFLAGS", "")
    if "-modcacherw" not in flags.split():
        variables["GOFLAGS"] = f"{flags} -modcacherw".strip()
    downloads = _user_go_modules(home, env) / "cache" / "download" if home is not None else None
    upstream = env.get("GOPROXY") or DEFAULT_GOPROXY
    if downloads is not None and downloads.is_dir():
        variables["GOPROXY"] = f"file://{downloads},{upstream}"
        return variables, [downloads]
    return variables, []


def _user_go_modules(home: Path, env: Mapping[str, str]) -> Path:
    """The user's module cache, as the go command finds it: GOMODCACHE, else GOPATH's first entry."""
    if env.get("GOMODCACHE"):
        return Path(env["GOMODCACHE"])
    gopath = (env.get("GOPATH") or "").split(os.pathsep)[0]
    return Path(gopath or home / "go") / "pkg" / "mod"


def _gradle(root: Path, home: Path | None, env: Mapping[str, str]) -> tuple[dict[str, str], tuple[tuple[Path, Path], ...], list[Path]]:
    gradle_home = root / "gradle"
    variables = {"GRADLE_USER_HOME": str(gradle_home)}
    user = Path(env["GRADLE_USER_HOME"]) if env.get("GRADLE_USER_HOME") else (home / ".gradle" if home else None)
    if user is None or not user.is_dir():
        return variables, (), []
    reads = [user]
    if (user / "caches" / "modules-2").is_dir():
        variables["GRADLE_RO_DEP_CACHE"] = str(user / "caches")
    shown: list[tuple[Path, Path]] = []
    # The wrapper unpacks `wrapper/dists/<name>/<hash>/<gradle-x>` and marks it `<zip>.ok`; it takes a
    # lock file beside them, so the folder around them must be writable: show each distribution alone.
    for marker in sorted((user / "wrapper" / "dists").glob("*/*/*.ok")):
        for item in (marker, *(p for p in marker.parent.iterdir() if p.is_dir())):
            shown.append((item, gradle_home / item.relative_to(user)))
    for name in ("gradle.properties", "init.gradle", "init.gradle.kts"):
        if (user / name).exists():
            shown.append((user / name, gradle_home / name))
    return variables, tuple(shown), reads


_REPO_LOCAL = re.compile(r"maven\.repo\.local")


def _maven(root: Path, home: Path | None, cwd: Path, env: Mapping[str, str]) -> dict[str, str]:
    """`MAVEN_ARGS` (Maven 3.9+) giving a writable local repository over the user's, unless the
    project or the user already chose one."""
    if home is None or env.get("MAVEN_ARGS") or _REPO_LOCAL.search(env.get("MAVEN_OPTS", "")):
        return {}
    config = cwd / ".mvn" / "maven.config"
    try:
        if _REPO_LOCAL.search(config.read_text(errors="replace")):
            return {}
    except OSError:
        pass
    args = f"-Dmaven.repo.local={root / 'maven'}"
    user_repo = home / ".m2" / "repository"
    if user_repo.is_dir():
        args += f" -Dmaven.repo.local.tail={user_repo}"
    return {"MAVEN_ARGS": args}
