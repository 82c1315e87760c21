"""The secret values a review must never send or print: those of the checkout's secret files, and
those of the secret files the pull request itself changes (on either side of its diff)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from agent.checkout_secrets import MAX_FILE_BYTES, checkout_secret_values, secret_values_in
from agent.redact import redact_exact
from agent.review.diff import Changes, Refs
from tools.gitcmd import run_git_bytes

M = TypeVar("M", bound=BaseModel)


def review_secret_values(repo_root: Path, refs: Refs, changes: Changes, globs: tuple[str, ...]) -> tuple[str, ...]:
    """Every value to redact by exact match from the review's requests and outputs."""
    values = dict.fromkeys(checkout_secret_values(repo_root, globs))
    for path in changes.secrets:
        for ref in (refs.base, refs.head):
            proc = run_git_bytes(repo_root, ("cat-file", "blob", f"{ref}:{path}"))
            if proc.returncode == 0 and len(proc.stdout) <= MAX_FILE_BYTES:
                values.update(dict.fromkeys(secret_values_in(proc.stdout.decode("utf-8", "replace"))))
    return tuple(values)


def redacted(model: M, values: tuple[str, ...]) -> M:
    """A copy of `model` with the exact `values` replaced in every string it holds."""
    if not values:
        return model
    return type(model).model_validate(redact_exact(model.model_dump(mode="json"), values))
