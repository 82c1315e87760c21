"""A browser on the app under review, for the QA critic: Playwright driving the system's Chromium.

The app and Chromium start together inside one sandbox (bubblewrap, its own network namespace), so
the browser reaches the app on the sandbox's loopback and nothing else; the sandbox ends, and every
process in it, when the browser closes. Every request to another origin is refused as well. The
model reads the page as text: its accessibility tree, its text, console errors. A screenshot of
every failing interaction is saved as evidence.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urljoin, urlparse

from tools.sandbox import SandboxMode, SandboxPolicy, kill_group, prepare_sandboxed
from tools.trim import trim_middle
from tools.webapp import AppSpec

if TYPE_CHECKING:  # imported when a browser starts: the extra is optional
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM_NAMES = ("chromium", "chromium-browser")
BROWSER_EXTRA = "pip install 'glm-agent[browser]'"
PAGE_CHARS = 6_000  # of a page's tree or text in one answer
ACTION_TIMEOUT_MS = 5_000
APP_START_S = 20.0  # how long the app may take to answer its first request
SETTLE_MS = 500  # after an action, how long its requests and scripts may take to show their errors
APP_LOG = ".qa-app.log"  # the app's output, in the scratch copy
IGNORED_PATHS = ("/favicon.ico",)  # browsers ask for it on their own; its absence is no user's problem


class BrowserFailed(Exception):
    """The browser could not be started here (the reason is Playwright's first line)."""


def chromium_path() -> str | None:
    """The system's Chromium, or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def browser_missing() -> str | None:
    """Why no browser can start here, in one line; None when one can."""
    try:
        import playwright.sync_api  # noqa: F401  (only whether the optional extra is installed)
    except ImportError:
        return f"the playwright package is not installed ({BROWSER_EXTRA})"
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium)"
    return None


@dataclass
class Interaction:
    """One browser action and what went wrong in it (nothing: it worked)."""

    number: int
    action: str
    url: str = ""
    problems: list[str] = field(default_factory=list)
    screenshot: str | None = None  # relative to the run's folder

    def record(self) -> dict[str, Any]:
        return {"number": self.number, "action": self.action, "url": self.url, "problems": self.problems,
                "screenshot": self.screenshot, "failed": bool(self.problems)}


@dataclass
class BrowserSetup:
    """Where and how the app runs, and where evidence goes."""

    app: AppSpec
    tree: Path  # the scratch copy the app runs from
    sandbox: SandboxMode
    policy: SandboxPolicy
    run_folder: Path  # screenshots go under run_folder/qa/
    label: str  # names the screenshots: <label>-<n>.png


class BrowserSession:
    """One browser and app per critic and gate; started by the first action, ended by close()."""

    def __init__(self, setup: BrowserSetup) -> None:
        self.setup = setup
        self.interactions: list[Interaction] = []
        self._events: list[str] = []
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None
        self._app: subprocess.Popen[bytes] | None = None
        self._folder = Path(tempfile.mkdtemp(prefix="agent-browser-"))
        self.sandboxed = False
        self._error: type[Exception] = Exception  # Playwright's error class, once it is loaded

    # The actions the model calls; each answers text and records an Interaction.
    def open(self, path: str) -> str:
        url = urljoin(self.setup.app.url, path or "/")
        if _origin(url) != self.setup.app.origin:
            return f"error: only the app under review can be opened ({self.setup.app.origin})"
        return self._act(f"open {path or '/'}", lambda page: self._goto(page, url))

    def click(self, role: str, name: str) -> str:
        return self._act(f"click {role} {name!r}",
                         lambda page: page.get_by_role(role, name=name, exact=True).click(timeout=ACTION_TIMEOUT_MS))  # type: ignore[arg-type]

    def fill(self, role: str, name: str, value: str) -> str:
        return self._act(f"fill {role} {name!r} with {value!r}",
                         lambda page: page.get_by_role(role, name=name, exact=True).fill(value, timeout=ACTION_TIMEOUT_MS))  # type: ignore[arg-type]

    def read(self, what: str) -> str:
        page = self._started()
        body = page.locator("body").inner_text(timeout=ACTION_TIMEOUT_MS) if what == "text" else self._tree(page)
        return f"url: {page.url}\n{trim_middle(body, PAGE_CHARS)}"

    def app_log(self) -> str:
        log = self.setup.tree / APP_LOG
        text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else "(the app wrote nothing)"
        return trim_middle(text, PAGE_CHARS)

    def close(self) -> None:
        """Close the browser; the sandbox and the app in it end with it."""
        try:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()
        finally:
            self._browser = self._playwright = self._page = None
            if self._app is not None:  # unsandboxed: the app is a process group of its own
                kill_group(self._app.pid, grace_s=2.0, proc=self._app)
                self._app = None
            shutil.rmtree(self._folder, ignore_errors=True)

    def failures(self) -> list[Interaction]:
        return [i for i in self.interactions if i.problems]

    def _act(self, action: str, do: Callable[[Page], object]) -> str:
        page = self._started()
        self._events.clear()
        step = Interaction(len(self.interactions) + 1, action)
        self.interactions.append(step)
        try:
            do(page)
            page.wait_for_load_state("load", timeout=ACTION_TIMEOUT_MS)
            page.wait_for_timeout(SETTLE_MS)
        except self._error as exc:  # Playwright's errors are the page's answer, for the model
            step.problems.append(f"the action failed: {_first_line(exc)}")
        step.url, step.problems = page.url, [*step.problems, *self._events]
        if step.problems:
            step.screenshot = self._screenshot(page, step.number)
        return self._describe(step, page)

    def _describe(self, step: Interaction, page: Page) -> str:
        lines = [f"interaction {step.number}: {step.action}", f"url: {step.url}"]
        if step.problems:
            lines += ["FAILED:", *(f"- {p}" for p in step.problems)]
            lines.append(f"screenshot: {step.screenshot} (cite interaction {step.number} in your finding)")
        else:
            lines.append("no console error, page error or failed request")
        lines += ["accessibility tree:", trim_middle(self._tree(page), PAGE_CHARS)]
        return "\n".join(lines)

    def _goto(self, page: Page, url: str) -> None:
        deadline = time.monotonic() + APP_START_S
        while True:
            try:
                page.goto(url, timeout=ACTION_TIMEOUT_MS)
                return
            except self._error as exc:  # refused until the app listens
                if "ERR_CONNECTION_REFUSED" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _tree(self, page: Page) -> str:
        try:
            return page.locator("body").aria_snapshot(timeout=ACTION_TIMEOUT_MS)
        except self._error as exc:
            return f"(no accessibility tree: {_first_line(exc)})"

    def _screenshot(self, page: Page, number: int) -> str | None:
        relative = Path("qa") / f"{self.setup.label}-{number}.png"
        target = self.setup.run_folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(target), full_page=True, timeout=ACTION_TIMEOUT_MS)
        except self._error:  # a page too broken to draw still has its problems recorded
            return None
        return relative.as_posix()

    def _started(self) -> Page:
        if self._page is None:
            self._page = self._start()
        return self._page

    def _start(self) -> Page:
        from playwright.sync_api import Error, sync_playwright  # the optional extra, loaded when QA opens a browser

        self._error = Error

        chromium = chromium_path()
        assert chromium is not None, "browser_missing() is checked before a session is made"
        app = self.setup.app
        inner = f"{app.cmd} >{shlex.quote(APP_LOG)} 2>&1 &"
        prepared = prepare_sandboxed(f'{inner} exec {shlex.quote(chromium)} "$@"', self.setup.tree,
                                     mode=self.setup.sandbox, policy=self.setup.policy,
                                     extra_env={"PORT": str(app.port)})
        self.sandboxed = prepared.sandboxed
        if prepared.sandboxed:
            executable = self._folder / "chromium-in-sandbox"
            executable.write_text("#!/bin/sh\nexec " + " ".join(map(shlex.quote, prepared.argv)) + ' chromium "$@"\n')
            executable.chmod(0o700)
        else:  # no sandbox: the app runs beside, and is killed as a group at close()
            self._app = subprocess.Popen(["/bin/sh", "-c", inner.rstrip(" &")], cwd=self.setup.tree, env=prepared.env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            executable = Path(chromium)
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(executable), env=prepared.env, args=["--disable-dev-shm-usage"],
                handle_sigint=False, handle_sigterm=False, handle_sighup=False)
            page = self._browser.new_page()
        except Error as exc:
            raise BrowserFailed(_first_line(exc)) from None
        page.route("**/*", self._only_the_app)
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self._events.append(f"page error (uncaught exception): {e}"))
        page.on("response", self._on_response)
        page.on("requestfailed", lambda r: not _ignored(r.url) and
                self._events.append(f"request failed: {r.method} {r.url} ({r.failure})"))
        return page

    def _only_the_app(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or _origin(url) == self.setup.app.origin:
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def _on_response(self, response: Any) -> None:
        if response.status >= 400 and not _ignored(response.url):
            self._events.append(f"HTTP {response.status} for {response.request.method} {response.url}")

    def _on_console(self, message: Any) -> None:
        # A failed load is reported once, by its response, with the method and URL the console omits.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self._events.append(f"console error: {message.text}")


def _origin(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def _ignored(url: str) -> bool:
    return urlparse(url).path in IGNORED_PATHS


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
