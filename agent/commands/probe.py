"""`agent probe`: GLM 4.7's validation checklist against the configured endpoint, as a table.

Exit 0 when every check passed (or was skipped), 1 when any failed; configuration and
credential problems raise UserError/AuthError (exit 2 at the CLI edge).
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

from contextlib import contextmanager
from rich.table import Table

from agent.console import make_console

from agent.llm.client import LLMClient
from agent.llm.probe import CheckResult, Probe
from agent.llm.types import RoleSettings

PROBE_ROLE = "executor"  # the probe exercises the role that uses every feature: tools, reasoning, history
SCRIPTED_MODEL = "zai-glm-4.7"


def probe_command(flags: dict[str, object], repo: Path, *, long_context: int, scripted: bool) -> int:
    """Run every check, print the table, and return the exit code (1: a check failed or no connection)."""
    with _settings(flags, repo, scripted) as settings:
        unreachable = unreachable_reason(settings.base_url, settings.limits.connect_s)
        if unreachable is not None:
            print(f"agent: cannot reach {settings.base_url}: {unreachable}", file=sys.stderr)
            return 1
        with LLMClient(lambda role: settings) as client:
            results = Probe(client, role=PROBE_ROLE, long_context=long_context).run()
        print_table(results, settings, scripted)
    return 1 if any(check.failed for check in results) else 0


def unreachable_reason(base_url: str, timeout_s: float) -> str | None:
    """Why no connection to the endpoint can be opened (DNS failure, refused), or None when one can.

    Checked once before the checks, so a dead endpoint ends the probe at once instead of each check
    retrying it. Through a proxy the proxy decides: nothing is checked here.
    """
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme in urllib.request.getproxies() or not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return None
    except socket.gaierror as exc:
        return f"the host name {parts.hostname} does not resolve ({exc.strerror or exc})"
    except OSError as exc:
        return f"{exc.strerror or exc} ({parts.hostname}:{port})"


@contextmanager
def _settings(flags: dict[str, object], repo: Path, scripted: bool) -> Iterator[RoleSettings]:
    """The role settings to probe: the configured endpoint, or the built-in scripted server."""
    if not scripted:
        from agent.config import load_config

        yield load_config(repo, flags, os.environ).require_key(PROBE_ROLE)
        return
    from agent.llm.probe_script import probe_responder
    from agent.testing import Script, ScriptedServer

    provider = str(flags.get("provider") or "cerebras")
    served = provider if provider in ("zai", "vllm", "openrouter") else "cerebras"
    with ScriptedServer(Script(provider=served)) as server:  # type: ignore[arg-type]
        server.set_view_responder(PROBE_ROLE, probe_responder)
        yield RoleSettings(model=str(flags.get("model") or SCRIPTED_MODEL), base_url=server.base_url,
                           api_key="scripted", provider=provider,  # type: ignore[arg-type]
                           reasoning=True, max_completion_tokens=16_384, temperature=None, top_p=None)


def print_table(results: list[CheckResult], settings: RoleSettings, scripted: bool) -> None:
    """The checks as a table, then one summary line."""
    where = "scripted server" if scripted else settings.base_url
    label = " (scripted)" if scripted else ""
    table = Table(title=f"agent probe{label}: {settings.model} via {settings.provider} at {where}")
    for column, justify in (("check", "left"), ("result", "left"), ("detail", "left"),
                            ("first token", "right"), ("tokens/s", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for check in results:
        style = {"pass": "green", "fail": "bold red", "skip": "yellow"}[check.outcome]
        table.add_row(check.name, f"[{style}]{check.outcome}[/]", check.detail,
                      _seconds(check.first_token_s), _rate(check.tokens_per_s))
    console = make_console()
    console.print(table)
    failed = [check.name for check in results if check.failed]
    skipped = [check.name for check in results if check.outcome == "skip"]
    passed = len(results) - len(failed) - len(skipped)
    summary = f"{passed}/{len(results)} checks passed"
    summary += f"; skipped: {', '.join(skipped)}" if skipped else ""
    console.print(summary + (f"; failed: {', '.join(failed)}" if failed else "") + label)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
