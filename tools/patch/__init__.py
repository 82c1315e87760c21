"""The patch engine shared by the executor's `write_patch` tool and `agent apply`.

`apply_patch` reads a unified diff, search/replace blocks or a `*** Begin Patch` patch, places
every hunk with the matching ladder, and writes all files or none. A bad patch is never an
exception: it is a refused `PatchResult` whose message teaches the model how to fix it.
"""

from __future__ import annotations

from pathlib import Path

from tools.paths import DEFAULT_SECRET_GLOBS

from tools.patch.apply import CommitError, commit
from tools.patch.detect import parse_patch
from tools.patch.engine import plan
from tools.patch.model import PatchParseError
from tools.patch.report import refusal_text, success_text
from tools.patch.result import FileOutcome, HunkOutcome, PatchResult
from tools.patch.tree import VirtualTree

__all__ = ["FileOutcome", "HunkOutcome", "PatchResult", "apply_patch"]


def apply_patch(text: str, root: Path, *, dry_run: bool = False,
                secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS, user_files: tuple[str, ...] = ()) -> PatchResult:
    """Apply `text` to the repository at `root` atomically; with dry_run, only check it.
    Files matching `secret_globs`, and the user's untracked `user_files` of a run in place, are
    refused like any path outside the repository."""
    try:
        parsed = parse_patch(text)
    except PatchParseError as exc:
        return PatchResult(False, f"Patch refused; no file was changed. Could not read the patch: {exc}.",
                           dry_run=dry_run)
    tree = VirtualTree(root, secret_globs, user_files)
    files = plan(parsed, tree)
    if not all(f.ok for f in files):
        return PatchResult(False, refusal_text(files), files, parsed.format, dry_run)
    if not dry_run:
        try:
            commit(tree.changed())
        except CommitError as exc:
            return PatchResult(False, refusal_text(files, f"{exc}."), files, parsed.format, dry_run)
    return PatchResult(True, success_text(files, parsed.format, dry_run), files, parsed.format, dry_run)
