"""`agent apply PATCH_FILE|-`: apply a model-written patch with the engine `write_patch` uses.

Exit 0 when applied (or, with --dry-run, when it would apply), 1 when refused (nothing changed),
2 for a usage error (raised as UserError and printed at the CLI edge).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.errors import UserError
from tools.patch import apply_patch


def read_patch(patch_file: str) -> str:
    """The patch text from a file or, for `-`, from standard input; UserError when unreadable or empty."""
    if patch_file == "-":
        data = sys.stdin.buffer.read()
        source = "standard input"
    else:
        path = Path(patch_file)
        if not path.is_file():
            raise UserError(f"patch file not found: {patch_file}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read patch file {patch_file}: {exc.strerror or exc}") from None
        source = patch_file
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # a patch against Latin-1 files is itself usually Latin-1
    if not text.strip():
        raise UserError(f"the patch from {source} is empty")
    return text


def apply_command(patch_file: str, repo: Path, *, dry_run: bool, json_out: bool) -> int:
    """Apply the patch to `repo`; print one line per file or the refusal; return the exit code."""
    if not repo.is_dir():
        raise UserError(f"repository is not a directory: {repo}")
    text = read_patch(patch_file)
    result = apply_patch(text, repo, dry_run=dry_run)
    if json_out:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1
