"""The one way the agent starts git: with every setting that would start a program turned off.

The model writes files in the working tree, and git runs programs that files there can name or
switch on: hooks under a relative `core.hooksPath` (husky's `.husky/_`), an fsmonitor hook, a
signing program. None of those may run outside the sandbox, so every git command the agent runs,
from the workspace, the review, the batch and the file tools alike, is built here. Settings given
with `-c` win over every config file, the user's and the repository's.

Not listed because no command the agent runs starts them: diff and textconv drivers (every diff
passes `--no-ext-diff --no-textconv`), merge drivers (the agent never merges), ssh, credential
helpers and proxies (it never fetches or pushes). Filter drivers are the user's programs (git-lfs)
that checkout and `git add` must run; `agent.gitrepo.audit_config` refuses a repository whose
config would let the working tree define or replace one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

# Variables that would point git at another repository or index than the one named by -C.
LOCATION_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX",
)
# Given on every command line, so they win over the user's and the repository's config.
NEUTRAL_CONFIG = (
    "core.hooksPath=/dev/null",  # no hook runs: a relative hooks path is a folder the model can write
    "core.fsmonitor=false",  # an fsmonitor hook would run on every status, add and diff
    "commit.gpgSign=false", "tag.gpgSign=false",  # gpg.program (or an ssh signer) is never started
    "maintenance.auto=false", "gc.auto=0",  # no background git processes per commit
)
# Programs git would start for input it cannot ask for (the agent passes every message with -m).
NEUTRAL_ENV = {
    "GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "GIT_SEQUENCE_EDITOR": "true", "GIT_PAGER": "cat",
    "GIT_ASKPASS": "true", "LC_ALL": "C",
}


def git_argv(cwd: Path, args: Sequence[str]) -> list[str]:
    """`git -c ... -C cwd ARGS`: the command line for one git command run by the agent."""
    flags = [part for setting in NEUTRAL_CONFIG for part in ("-c", setting)]
    return ["git", *flags, "-C", str(cwd), *args]


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for git: no inherited repository location, the neutral programs,
    no relative PATH entry (git would look up a helper such as git-lfs in the working tree), `extra` last."""
    base = {k: v for k, v in os.environ.items() if k not in LOCATION_VARS}
    path = os.pathsep.join(p for p in base.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(p))
    return base | NEUTRAL_ENV | {"PATH": path} | (extra or {})


def run_git_text(cwd: Path, args: Sequence[str], env: dict[str, str] | None = None,
                 timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run one git command; its output as text."""
    return subprocess.run(git_argv(cwd, args), capture_output=True, text=True, env=git_env(env),
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)


def run_git_bytes(cwd: Path, args: Sequence[str], stdin: bytes | None = None,
                  timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run one git command with raw bytes in and out (diffs need not be UTF-8)."""
    return subprocess.run(git_argv(cwd, args), input=stdin, capture_output=True, env=git_env(),
                          stdin=None if stdin is not None else subprocess.DEVNULL, timeout=timeout, check=False)
