"""`agent doctor`: the resolved configuration and where each value came from, key presence,
endpoint reachability, git and the test sandbox. Exit 0 when all is well, 1 when a critic cannot
be loaded, a key is missing or an endpoint cannot be used, 2 (raised as ConfigError) when the configuration is invalid."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent.config import ESCALATION_ROLE, KEY_ENV_VARS, AgentConfig, is_local, load_config
from agent.errors import UserError
from agent.gitrepo import open_repo
from agent.preflight import check_escalation_role, preflight
from agent.llm.profiles import describe_carrier, profile_for
from agent.llm.types import Provider
from tools.gitcmd import run_git_text
from tools.paths import DEFAULT_SECRET_GLOBS

Status = Literal["ok", "warn", "fail"]
ENDPOINT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    """One line of the checks table."""

    name: str
    status: Status
    detail: str


@dataclass
class Table:
    """A titled table, rendered with rich at a terminal and as aligned plain text otherwise."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def doctor_command(repo: Path, flags: dict[str, object]) -> int:
    """Print everything `agent run` depends on; 0 when usable, 1 when a key or endpoint is not."""
    config = load_config(repo, flags, os.environ)
    checks = [critics_check(config, repo), *escalation_checks(config), *key_checks(config), *endpoint_checks(config), *git_checks(repo),
              sandbox_check(config.sandbox), tests_check(repo, config)]
    tables = [settings_table(config), roles_table(config), checks_table(checks)]
    _render(tables, _file_line(config))
    failures = [check for check in checks if check.status == "fail"]
    summary = f"{len(failures)} problem(s): " + "; ".join(c.name for c in failures) if failures else "ready"
    print(f"doctor: {summary}")
    return 1 if failures else 0


def _file_line(config: AgentConfig) -> str:
    if config.config_file is None:
        return "configuration file: none (no .agent.toml, no [tool.agent] in pyproject.toml)"
    return f"configuration file: {config.config_file}"


def settings_table(config: AgentConfig) -> Table:
    """Every top-level key, its value and where that value came from."""
    table = Table("Settings", ["key", "value", "from"])
    values = config.redacted()
    for key in config.sources:
        value = values[key]
        if key == "secret_globs":
            extra = len(value) - len(DEFAULT_SECRET_GLOBS)
            shown = f"built-in deny-list + {extra} more" if extra else "built-in deny-list"
        elif isinstance(value, list):
            shown = ", ".join(value) or "(none)"
        elif key == "prices":  # US dollars per million tokens, input / output
            shown = "; ".join(f"{model} ${p['input']:g} / ${p['output']:g} per M" for model, p in value.items())
        else:
            shown = str(value) if value is not None else ("(auto-detect)" if key == "test_cmd" else "(not set)")
        table.rows.append([key, shown, config.origin(key)])
    return table


def roles_table(config: AgentConfig) -> Table:
    """Each role as the model client will call it."""
    table = Table("Roles", ["role", "model", "provider", "base_url", "reasoning", "budget", "temp/top_p",
                            "reasoning sent back as", "reasoning off by"])
    for role in config.role_names():
        s = config.role_settings(role)
        profile = profile_for(s.provider)
        sampling = f"{s.temperature}/{s.top_p}"
        table.rows.append([role, s.model, s.provider, s.base_url, config.reasoning_mode(role),
                           str(s.max_completion_tokens), sampling, describe_carrier(s.carrier or profile.carrier),
                           profile.describe_off()])
    return table


def checks_table(checks: list[Check]) -> Table:
    return Table("Checks", ["", "check", "result"], [[c.status, c.name, c.detail] for c in checks])


def _endpoints(config: AgentConfig) -> dict[str, tuple[Provider, str | None, set[str]]]:
    """base_url → (provider, api key or None, models the roles want there)."""
    found: dict[str, tuple[Provider, str | None, set[str]]] = {}
    for role in config.role_names():
        s = config.role_settings(role)
        found.setdefault(s.base_url, (s.provider, s.api_key, set()))[2].add(s.model)
    return found


def critics_check(config: AgentConfig, repo: Path) -> Check:
    """The critics `agent run` would load, checked the way it checks them."""
    try:
        root = open_repo(repo)
    except UserError:
        root = repo  # reported by the repository check; built-in critics still load
    try:
        # Keys and the escalation role have checks of their own.
        critics = preflight(config.model_copy(update={"escalation": "off", "route": "off"}), root, require_keys=False)
    except UserError as exc:
        return Check("critics", "fail", str(exc))
    return Check("critics", "ok", ", ".join(c.name for c in critics) or "(none)")


def escalation_checks(config: AgentConfig) -> list[Check]:
    """Whether a run that escalates (or routes) has the escalation model it needs; nothing when it does neither."""
    if not config.escalates:
        return []
    try:
        check_escalation_role(config)
    except UserError as exc:
        return [Check("escalation", "fail", str(exc))]
    s = config.role_settings(ESCALATION_ROLE)
    return [Check("escalation", "ok", f"{s.model} via {s.provider} (escalation = {config.escalation}, "
                                      f"route = {config.route})")]


def key_checks(config: AgentConfig) -> list[Check]:
    """Key presence for each provider in use: the variable it was found in, never the key."""
    checks: list[Check] = []
    for base_url, (provider, _key, _models) in _endpoints(config).items():
        name = f"API key for {provider}"
        if any(c.name == name for c in checks):
            continue
        var = config.key_status(provider)
        if var:
            checks.append(Check(name, "ok", f"set ({var})"))
        elif is_local(base_url):
            checks.append(Check(name, "ok", "not needed for a local endpoint"))
        else:
            wanted = " or ".join(KEY_ENV_VARS[provider])
            checks.append(Check(name, "fail", f"missing: set {wanted}"))
    return checks


def endpoint_checks(config: AgentConfig, timeout: float = ENDPOINT_TIMEOUT_S) -> list[Check]:
    """GET {base_url}/models on every endpoint in use, concurrently."""
    endpoints = _endpoints(config)
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints))) as pool:
        futures = [pool.submit(probe_endpoint, url, key, models, timeout) for url, (_, key, models)
                   in endpoints.items()]
        return [future.result() for future in futures]


def probe_endpoint(base_url: str, api_key: str | None, models: set[str], timeout: float) -> Check:
    """One endpoint's reachability as one line: the status code, or the connection error."""
    name = f"endpoint {base_url}"
    request = urllib.request.Request(base_url.rstrip("/") + "/models", headers={"Accept": "application/json"})
    if api_key:
        request.add_unredirected_header("Authorization", f"Bearer {api_key}")
    # A local endpoint must not be sent through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({} if is_local(base_url) else None))
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(2_000_000)
            status = response.status
    except urllib.error.HTTPError as exc:
        # Never print the body: some servers echo part of the key in their 401 message.
        refused = exc.code in (401, 403)
        detail = f"HTTP {exc.code}" + (": the key was refused" if refused else f" {exc.reason}")
        return Check(name, "fail" if refused else "warn", detail)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check(name, "fail", f"unreachable: {_one_line(str(reason))}")
    return Check(name, *_listed(status, body, models))


def _listed(status: int, body: bytes, models: set[str]) -> tuple[Status, str]:
    """Whether the models the roles use are in the endpoint's list (a warning if not)."""
    try:
        listed = {str(entry.get("id")) for entry in json.loads(body).get("data", []) if isinstance(entry, dict)}
    except (ValueError, AttributeError):
        return "ok", f"HTTP {status}"
    missing = sorted(models - listed)
    if missing and listed:
        return "warn", f"HTTP {status}, but not listed: {', '.join(missing)}"
    return "ok", f"HTTP {status}, {len(listed)} model(s) listed"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def git_checks(repo: Path) -> list[Check]:
    """The git version, and whether --repo is inside a git repository."""
    git = shutil.which("git")
    if git is None:
        return [Check("git", "fail", "git not found on PATH: agent run needs git")]
    # Through tools.gitcmd, as a run asks: the same settings, and no GIT_DIR inherited from a hook.
    version = run_git_text(Path("."), ("--version",), timeout=30)
    checks = [Check("git", "ok", version.stdout.strip() or "installed")]
    if not repo.is_dir():
        return [*checks, Check("repository", "warn", f"{repo} is not a directory")]
    top = run_git_text(repo, ("rev-parse", "--show-toplevel"), timeout=30)
    if top.returncode == 0:
        checks.append(Check("repository", "ok", f"git repository at {top.stdout.strip()}"))
    else:
        checks.append(Check("repository", "warn", f"{repo} is not a git repository: agent run needs one"))
    return checks


def sandbox_check(mode: str) -> Check:
    """Whether tests will run under bubblewrap (network off) or as a plain subprocess."""
    from tools.sandbox import detect_sandbox

    if mode == "none":
        return Check("sandbox", "warn", "disabled by configuration (sandbox = \"none\"): "
                                        "tests run as a plain subprocess")
    found = detect_sandbox()
    if found.available and found.kind == "bwrap":
        return Check("sandbox", "ok", found.detail)
    if mode == "bwrap":
        return Check("sandbox", "fail", f"sandbox = \"bwrap\" is configured but {found.detail}")
    return Check("sandbox", "warn", f"{found.detail}; tests run as a plain subprocess")


def tests_check(repo: Path, config: AgentConfig) -> Check:
    """Which command run_tests will run here and why; a warning when there is none."""
    from tools.testrun import resolve_test_command

    found = resolve_test_command(repo, config.test_cmd)
    if found is not None:
        return Check("test command", "ok", f"{found.command} ({found.reason})")
    if config.allow_no_tests:
        return Check("test command", "ok", "none found; allow_no_tests is set, so runs may succeed without tests")
    return Check("test command", "warn", "none configured or detected: runs will end unverified; "
                                         "set test_cmd in .agent.toml or pass --test-cmd")


def _render(tables: list[Table], header: str) -> None:
    if sys.stdout.isatty():
        _render_rich(tables, header)
        return
    print(header)
    for table in tables:
        print(f"\n{table.title}")
        widths = [max(len(row[i]) for row in [table.headers, *table.rows]) for i in range(len(table.headers))]
        for row in [table.headers, *table.rows]:
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print()


def _render_rich(tables: list[Table], header: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table as RichTable

    console = Console()
    console.print(escape(header))
    colours = {"ok": "green", "warn": "yellow", "fail": "bold red"}
    for table in tables:
        rich_table = RichTable(title=table.title, title_justify="left")
        for heading in table.headers:
            rich_table.add_column(heading, overflow="fold")
        for row in table.rows:
            cells = [escape(cell) for cell in row]
            if table.title == "Checks":
                cells[0] = f"[{colours[row[0]]}]{row[0]}[/]"
            rich_table.add_row(*cells)
        console.print(rich_table)
