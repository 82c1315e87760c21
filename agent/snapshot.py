"""A read-only copy of a tree for critics to read: the step's judged tree, or a pull request's head;
and a writable scratch copy of the judged tree for the QA critic's probes and app.

Critics never see the checkout the executor edits: what they read is exactly what will be
committed (the gate's judged index) or what was pushed (the review's head commit), written out
with `git checkout-index` into a temporary folder and made read-only, removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.gitrepo import git

_READ_ONLY_DIR = stat.S_IRUSR | stat.S_IXUSR
_READ_ONLY_FILE = stat.S_IRUSR


@contextmanager
def index_snapshot(checkout: Path, index: Path) -> Iterator[Path]:
    """The tree staged in `index` (an index file of `checkout`'s repository), as a read-only folder."""
    with tempfile.TemporaryDirectory(prefix="agent-tree-") as tmp:
        dest = Path(tmp) / "tree"
        dest.mkdir()
        try:
            _write_tree(checkout, index, dest)
            _read_only(dest)
            yield dest
        finally:
            _writable(dest)


@contextmanager
def scratch_copy(checkout: Path, index: Path) -> Iterator[Path]:
    """The tree staged in `index`, as a writable throwaway folder (the QA critic's probes and app run
    there); removed afterwards, whatever ran in it."""
    dest = Path(tempfile.mkdtemp(prefix="agent-qa-"))
    try:
        _write_tree(checkout, index, dest)
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _write_tree(checkout: Path, index: Path, dest: Path) -> None:
    git(checkout, "checkout-index", "--all", "--force", f"--prefix={dest}/", env={"GIT_INDEX_FILE": str(index)})


@contextmanager
def commit_snapshot(checkout: Path, rev: str) -> Iterator[Path]:
    """The tree of commit `rev`, as a read-only folder."""
    with tempfile.TemporaryDirectory(prefix="agent-index-") as tmp:
        index = Path(tmp) / "index"
        git(checkout, "read-tree", rev, env={"GIT_INDEX_FILE": str(index)})
        with index_snapshot(checkout, index) as tree:
            yield tree


def _read_only(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(_READ_ONLY_FILE)
        Path(folder).chmod(_READ_ONLY_DIR)


def _writable(root: Path) -> None:
    """Undo _read_only so the folder can be removed (a half-written snapshot too)."""
    if not root.exists():
        return
    for folder, dirs, _ in os.walk(root):
        Path(folder).chmod(stat.S_IRWXU)
        for name in dirs:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(stat.S_IRWXU)
    shutil.rmtree(root, ignore_errors=True)
