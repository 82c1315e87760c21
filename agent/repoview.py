"""A bounded view of a repository for the planner and executor: file tree, README head, AGENTS.md."""

from __future__ import annotations

from pathlib import Path

from tools.gitcmd import run_git_text
from tools.paths import DEFAULT_SECRET_GLOBS, is_secret, is_users

MAX_TREE_FILES = 400
README_LINES = 40
AGENTS_MD_CHARS = 8_000


def list_repo_files(root: Path, secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS,
                    user_files: tuple[str, ...] = ()) -> list[str]:
    """Tracked and untracked-but-not-ignored files, secrets and the user's own untracked files of a
    run in place left out, sorted."""
    proc = run_git_text(root, ("ls-files", "--cached", "--others", "--exclude-standard", "-z"))
    if proc.returncode != 0:
        return []
    files = {f for f in proc.stdout.split("\0") if f and not f.startswith(".agent/")}
    return sorted(f for f in files
                  if not is_secret(f, secret_globs) and not is_users(f, user_files) and (root / f).exists())


def agents_md(root: Path) -> str | None:
    """The repository's AGENTS.md (project instructions), bounded, or None."""
    path = root / "AGENTS.md"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    return text[:AGENTS_MD_CHARS] + ("\n[... truncated]" if len(text) > AGENTS_MD_CHARS else "")


def repo_view(root: Path, secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS, user_files: tuple[str, ...] = ()) -> str:
    """The text the planner and executor see about the repository."""
    files = list_repo_files(root, secret_globs, user_files)
    shown = files[:MAX_TREE_FILES]
    parts = [f"Files ({len(files)}):", *shown]
    if len(files) > len(shown):
        parts.append(f"[... {len(files) - len(shown)} more files not shown]")
    readme = next((root / n for n in ("README.md", "README.rst", "README.txt", "README") if n in files), None)
    if readme is not None:
        head = readme.read_text(encoding="utf-8", errors="replace").splitlines()[:README_LINES]
        parts += ["", f"{readme.name} (first {len(head)} lines):", *head]
    instructions = agents_md(root) if "AGENTS.md" in files else None
    if instructions:
        parts += ["", "AGENTS.md (the project's instructions for coding agents):", instructions]
    return "\n".join(parts)
