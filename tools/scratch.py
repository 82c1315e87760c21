"""A scratch copy of the tree under review: a throwaway folder, outside the run's worktree and the
user's checkout, where the QA critic's probes and app run without touching either."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.errors import AgentError
from tools.gitcmd import run_git_text

SCRATCH_PREFIX = "agent-qa-"


@contextmanager
def scratch_tree(worktree: Path, index: Path) -> Iterator[Path]:
    """A copy of the files staged in `index` (the tree the gate judges, untracked files included);
    removed when the context ends, whatever ran in it."""
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    try:
        done = run_git_text(worktree, ["checkout-index", "--all", "--force", f"--prefix={folder}/"],
                            {"GIT_INDEX_FILE": str(index)})
        if done.returncode != 0:
            raise AgentError(f"could not copy the tree under review for QA: {done.stderr.strip()}")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
