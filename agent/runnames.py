"""How runs are named: the run id, the task's slug and the run's branch `agent/<slug>-<id>`."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime, timezone

BRANCH_PREFIX = "agent/"


def slugify(task: str, max_len: int = 40) -> str:
    """Lowercase ascii words of `task` joined by '-', at most `max_len` characters, never empty."""
    ascii_text = unicodedata.normalize("NFKD", task).encode("ascii", "ignore").decode().lower()
    slug = ""
    for word in re.findall(r"[a-z0-9]+", ascii_text):
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            slug = slug or word[:max_len]
            break
        slug = candidate
    return slug or "task"


def new_run_id(now: datetime | None = None) -> str:
    """A short id that sorts by creation time (UTC), e.g. `20261126-073400-a1b2`."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def is_run_id(text: str) -> bool:
    """True for a plain name usable as a run id: never a path, never hidden."""
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text) is not None


def check_run_id(run_id: str) -> None:
    if not is_run_id(run_id):
        raise ValueError(f"invalid run id {run_id!r}")


def new_branch_name(run_id: str, slug: str) -> str:
    """`agent/<slug>-<id>`; git itself refuses it when invalid or taken (see `agent.workspace`)."""
    check_run_id(run_id)
    return f"{BRANCH_PREFIX}{slugify(slug)}-{run_id}"
