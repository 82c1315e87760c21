"""The user's own checkout used in place (`--in-place`): what blocks it, and which files stay the user's.

Modified or staged tracked files block a run in place: its commits would mix them with the run's
work. Untracked files do not: they are the user's, recorded when the run starts, and the run
leaves them alone for its whole life (its tools neither read nor write them, its test runs see
them empty, its commits, diffs, resume and clean-ups skip them).
"""

from __future__ import annotations

from pathlib import Path

from agent.errors import UserError
from agent.gitrepo import git

SHOWN_BLOCKERS = 10
# Porcelain v1 status letters, index side then working-tree side.
_STAGED = {"A": "staged new file", "M": "staged", "D": "staged deletion", "R": "staged rename", "C": "staged copy",
           "T": "staged type change"}
_UNSTAGED = {"M": "modified", "D": "deleted", "T": "changed type"}


def user_untracked(root: Path) -> tuple[str, ...]:
    """The checkout's untracked, not ignored files: a wholly untracked folder as one `folder/` entry."""
    out = git(root, "ls-files", "--others", "--exclude-standard", "--directory", "-z")
    return tuple(sorted(name for name in out.split("\0") if name))


def require_clean(root: Path) -> None:
    """UserError naming every tracked file that is modified or staged (untracked files never block)."""
    out = git(root, "status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=none")
    fields = out.split("\0")
    blockers: list[str] = []
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if len(entry) < 4:
            continue
        x, y, path = entry[0], entry[1], entry[3:]
        if x in "RC":
            index += 1  # a rename's source path follows its entry
        blockers.append(f"{path} ({_kind(x, y)})")
    if not blockers:
        return
    shown = ", ".join(blockers[:SHOWN_BLOCKERS])
    more = f" and {len(blockers) - SHOWN_BLOCKERS} more" if len(blockers) > SHOWN_BLOCKERS else ""
    raise UserError(f"--in-place needs a working tree without uncommitted changes to tracked files: {shown}{more}; "
                    "commit or stash them first, or run without --in-place (untracked files do not block it)")


def _kind(x: str, y: str) -> str:
    if x == "U" or y == "U" or (x, y) in (("A", "A"), ("D", "D")):
        return "unmerged"
    kinds = [_STAGED[x]] if x in _STAGED else []
    if y in _UNSTAGED:
        kinds.append(_UNSTAGED[y])
    return ", ".join(kinds) or "changed"
