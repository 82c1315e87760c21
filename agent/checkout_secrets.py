"""The values held in the repository's secret files (`.env`, `.env.local`, `credentials.json`, keys).

The agent never reads these files for the model, but it knows them: every value found here is
redacted by exact match from the journal, the model requests, tool results and commit messages,
whatever its shape (a password of plain words matches no pattern).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from tools.paths import is_secret

MAX_FILE_BYTES = 256_000
MAX_ENTRIES = 20_000  # a walk of a huge checkout stops here; the root's own files come first
MIN_VALUE_CHARS = 6
# Folders that hold no secret files of the project's own, and can be huge.
SKIP_DIRS = frozenset({".git", ".agent", "node_modules", ".venv", "venv", "__pycache__", ".tox", "target", "dist",
                       "build", ".mypy_cache", ".pytest_cache", "bower_components"})
# Values that configure rather than protect: redacting them everywhere would only garble output.
COMMON_VALUES = frozenset({"true", "false", "development", "production", "staging", "localhost", "127.0.0.1",
                           "0.0.0.0", "default", "enabled", "disabled", "postgres", "postgresql", "mysql", "sqlite",
                           "redis", "debug", "info", "warning", "error"})
# `NAME=value`, `name: value`, `name = "value"`, `export NAME=value`, netrc's `password value`.
_ASSIGNMENT = re.compile(r"""^\s*(?:export\s+)?[\w.\-/:@]+\s*(?:=|:|\s)\s*(?P<value>.+?)\s*$""")


def checkout_secret_values(checkout: Path, globs: tuple[str, ...]) -> tuple[str, ...]:
    """Every distinct value worth hiding in the checkout's secret files (tracked or not)."""
    values: dict[str, None] = {}
    for path in _secret_files(checkout, globs):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        values.update(dict.fromkeys(secret_values_in(text)))
    return tuple(values)


def secret_values_in(text: str) -> tuple[str, ...]:
    """The values worth hiding in the text of one secret file."""
    return tuple(dict.fromkeys(value for value in _values(text) if _worth_hiding(value)))


def _secret_files(checkout: Path, globs: tuple[str, ...]) -> Iterator[Path]:
    seen = 0
    for folder, dirs, files in os.walk(checkout):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        rel_folder = PurePosixPath(Path(folder).relative_to(checkout).as_posix())
        for name in files:
            seen += 1
            if seen > MAX_ENTRIES:
                return
            if is_secret(rel_folder / name, globs):
                yield Path(folder) / name


def _values(text: str) -> Iterator[str]:
    """The values in a secret file: JSON strings, assigned values, and a key file's whole body."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            yield from _json_strings(json.loads(stripped))
            return
        except ValueError:
            pass
    if "-----BEGIN" in stripped or "\n" not in stripped:
        yield stripped  # a key file, or a file that holds one bare token
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";", "//", "[")):
            continue
        found = _ASSIGNMENT.match(line)
        if found:
            yield found.group("value").strip().strip("'\"`")


def _json_strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for item in data.values():
            yield from _json_strings(item)
    elif isinstance(data, list):
        for item in data:
            yield from _json_strings(item)


def _worth_hiding(value: str) -> bool:
    if len(value) < MIN_VALUE_CHARS or value.lower() in COMMON_VALUES:
        return False
    return not re.fullmatch(r"[\d.:,\s-]+", value)  # a port, a number, an address
