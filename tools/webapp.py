"""Whether a repository is a web app the QA critic can drive in a browser, and how to start it.

Configured `app_cmd` (and `app_url`) win. Detection is deliberately narrow, so that no repository
gets a browser it cannot use: only a `Procfile` with a `web:` process counts, the convention under
which the app listens on the port given in `$PORT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_PORT = 8000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_WEB_PROCESS = re.compile(r"^web\s*:\s*(?P<cmd>\S.*)$", re.MULTILINE)


@dataclass(frozen=True)
class AppSpec:
    """How to start the app (a shell command run in the tree's root) and where it answers."""

    cmd: str
    url: str
    reason: str

    @property
    def port(self) -> int:
        return urlparse(self.url).port or DEFAULT_PORT

    @property
    def origin(self) -> str:
        parsed = urlparse(self.url)
        return f"{parsed.scheme}://{parsed.netloc}"


def check_app_url(url: str) -> str:
    """`url` when it is an http:// URL on the loopback interface; ValueError otherwise."""
    parsed = urlparse(url)
    if parsed.scheme != "http" or parsed.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"must be an http:// URL on 127.0.0.1 or localhost (the app runs with loopback only); got {url!r}")
    return url


def find_app(root: Path, cmd: str | None, url: str | None) -> AppSpec | None:
    """The app to drive: the configured command, else a Procfile's `web:` process; None when neither."""
    default_url = f"http://127.0.0.1:{DEFAULT_PORT}/"
    if cmd:
        return AppSpec(cmd, url or default_url, "configured: app_cmd")
    procfile = root / "Procfile"
    try:
        text = procfile.read_text(encoding="utf-8", errors="replace") if procfile.is_file() else ""
    except OSError:
        return None
    found = _WEB_PROCESS.search(text)
    if found is None:
        return None
    return AppSpec(found.group("cmd").strip(), url or default_url, "detected: Procfile web process")
