"""A small GitHub REST client on urllib: bearer auth, JSON in and out, Link-header pagination.

The token is sent only to the configured API host and never appears in an error message: every
message is passed through `redact` with the token as an exact value.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlparse

from agent.errors import AgentError
from agent.redact import redact

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_PAGES = 50
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(AgentError):
    """GitHub refused or failed a request; 401/403/404 are the user's to fix (exit 2)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status
        self.exit_code = 2 if status in (401, 403, 404) else 1


@dataclass
class GitHubAPI:
    api_url: str
    token: str = field(repr=False)
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        self.api_url = self.api_url.rstrip("/")

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One call; the decoded JSON answer, or GitHubError naming the status and GitHub's message."""
        data, _ = self._send(method, self._url(path), body)
        return data

    def paginate(self, path: str) -> list[Any]:
        """Every item of a listing, following `Link: rel="next"` on the same host only."""
        url: str | None = self._url(path + ("&" if "?" in path else "?") + "per_page=100")
        items: list[Any] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            data, headers = self._send("GET", url, None)
            items.extend(data if isinstance(data, list) else [])
            url = self._next(headers.get("Link", ""))
        return items

    def _url(self, path: str) -> str:
        return self.api_url + ("" if path.startswith("/") else "/") + path

    def _next(self, link: str) -> str | None:
        match = _NEXT.search(link)
        if match is None:
            return None
        url = urljoin(self.api_url + "/", match.group(1))
        return url if urlparse(url).netloc == urlparse(self.api_url).netloc else None

    def _send(self, method: str, url: str, body: Any) -> tuple[Any, dict[str, str]]:
        payload = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=payload, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION, "User-Agent": "glm-agent-review",
            **({"Content-Type": "application/json"} if payload is not None else {}),
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
                headers = dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            with exc:
                detail = _message(exc.read())
            raise self._error(f"GitHub answered {exc.code} to {method} {urlparse(url).path}: {detail}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise self._error(f"cannot reach GitHub at {self.api_url}: {reason}", None) from None
        return (json.loads(raw) if raw.strip() else None), headers

    def _error(self, message: str, status: int | None) -> GitHubError:
        return GitHubError(redact(message, [self.token]), status)


def _message(raw: bytes) -> str:
    """GitHub's error message and the first detail, in one line."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:200].replace("\n", " ") or "(no body)"
    if not isinstance(data, dict):
        return str(data)[:200]
    errors = data.get("errors") or []
    first = errors[0] if errors else None
    extra = f" ({first.get('message') or first})" if isinstance(first, dict) else f" ({first})" if first else ""
    return f"{data.get('message', '(no message)')}{extra}"[:300]
