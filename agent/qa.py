"""The QA critic's tools that run things: probe tests and a browser on the app, both on a scratch copy
of the step's judged tree (never the run's worktree, never the user's checkout).

One kit per critic and gate. A probe that fails is a proven finding the kit adds to the critic's
verdict, with the probe's code and output as evidence; a finding that cites a failed browser
interaction gets that interaction's problems and screenshot as evidence. Everything the kit
starts (the scratch copy, the app, the browser) ends with close(), in the critic's own thread.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field, ValidationError

from agent.llm.types import ToolCall
from agent.prompting import render_prompt
from agent.redact import redact
from agent.snapshot import scratch_copy
from critics.registry import BROWSER_TOOLS, PROBE_TOOLS
from critics.verdict import Finding, Verdict
from tools.gitcmd import run_git_text
from tools.browser import BrowserFailed, BrowserSession, BrowserSetup, browser_missing
from tools.probes import ProbeRecord, RunProbeArgs, probe_result_text, run_probe
from tools.registry import Tool, ToolArgs, ToolContext, ToolResult, describe_validation_error, parse_arguments
from tools.testrun import resolve_test_command
from tools.trim import trim_middle
from tools.webapp import AppSpec

MAX_PROBES = 3  # per critic and gate
MAX_BROWSER_ACTIONS = 20  # per critic and gate
EVIDENCE_CHARS = 6_000
_TEST_FILE = re.compile(r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]*$|[_.](test|spec)\.[a-z]+$|Test\.java$")
_TEST_NAME = re.compile(r"^test_|[_.](test|spec)\.[a-z]+$|Test\.java$")
_INTERACTION = re.compile(r"\binteraction\s+#?(\d+)", re.IGNORECASE)


class BrowserOpenArgs(ToolArgs):
    """Open a page of the app under review in the browser (the app is started on first use, from the tree
    under review). Answers the page's accessibility tree and any console error, page error or failed request."""

    path: str = Field("/", description="The page's path on the app, e.g. '/' or '/login'.")


class BrowserClickArgs(ToolArgs):
    """Click an element found by its role and accessible name, as the accessibility tree shows them
    (e.g. role 'button', name 'Save'). Answers the resulting page's tree and any error."""

    role: str = Field(description="ARIA role: button, link, checkbox, menuitem, tab, ...")
    name: str = Field(description="The element's accessible name, exactly as in the tree.")


class BrowserFillArgs(ToolArgs):
    """Type a value into a form field found by its role and accessible name (its label)."""

    name: str = Field(description="The field's accessible name (its label), exactly as in the tree.")
    value: str
    role: str = Field("textbox", description="textbox, searchbox, combobox, spinbutton, ...")


class BrowserReadArgs(ToolArgs):
    """Read the current page: its accessibility tree (roles and names) or its visible text."""

    what: Literal["tree", "text"] = "tree"


class BrowserAppLogArgs(ToolArgs):
    """Read what the app printed (its requests, errors, tracebacks) since it started."""


_ARGS: dict[str, type[ToolArgs]] = {
    "run_probe": RunProbeArgs, "browser_open": BrowserOpenArgs, "browser_click": BrowserClickArgs,
    "browser_fill": BrowserFillArgs, "browser_read": BrowserReadArgs, "browser_app_log": BrowserAppLogArgs,
}


@cache
def qa_tool_schema(name: str) -> dict[str, Any]:
    """The OpenAI tool entry of QA tool `name`."""
    return Tool(name, _ARGS[name], lambda args, ctx: ToolResult("")).schema()


Recorder = Callable[[str, dict[str, Any]], None]  # journal event type and fields


@dataclass(frozen=True)
class QASetup:
    """What every QA kit of one gate shares: the run's worktree context, the judged tree, where evidence goes."""

    context: ToolContext  # the run's worktree: its test command and sandbox settings
    index: Path  # the index holding the step's judged tree
    baseline: dict[str, Any] | None  # the judged tree's test result
    app: AppSpec | None
    run_folder: Path
    step: str
    record: Recorder | None = None
    shown: Callable[[str], None] | None = None  # every tool answer, as the critic read it (evidence may quote it)

    def available(self) -> tuple[str, ...]:
        """The QA tools that can run here: probes when there is a test command, the browser for a web app."""
        names: list[str] = []
        if resolve_test_command(self.context.root, self.context.test_command) is not None:
            names += PROBE_TOOLS
        if self.app is not None and browser_missing() is None:
            names += BROWSER_TOOLS
        return tuple(names)

    def rules(self) -> str:
        """The QA tools' rules, for the critic's system prompt."""
        return render_prompt("qa_tools_rules", max_probes=MAX_PROBES, max_actions=MAX_BROWSER_ACTIONS)

    def facts(self) -> str:
        """The test command, the test layout and the app, for the critic's user message."""
        found = resolve_test_command(self.context.root, self.context.test_command)
        app = (f"started with `{self.app.cmd}` ({self.app.reason}) at {self.app.url}" if self.app is not None
               and browser_missing() is None else "none (no browser tools)")
        return render_prompt("qa_tools_context", test_cmd=found.command if found else "none (no probes)",
                             test_files=", ".join(test_files(self.context.root)) or "none yet", app=app)


def test_files(root: Path, limit: int = 8) -> list[str]:
    """A few of the repository's test files, to show a probe the layout it follows."""
    done = run_git_text(root, ["ls-files", "-z"])
    names = [n for n in done.stdout.split("\0") if _TEST_FILE.search(n)] if done.returncode == 0 else []
    # Files named as tests first (test_x.py, x_test.go, x.test.js), then other files in test folders.
    return sorted(names, key=lambda n: not _TEST_NAME.search(n.rsplit("/", 1)[-1]))[:limit]


class QAKit:
    """One critic's probes and browser in one gate (a CriticKit)."""

    max_calls = MAX_PROBES + MAX_BROWSER_ACTIONS

    def __init__(self, setup: QASetup, critic: str) -> None:
        self.setup, self.critic = setup, critic
        self._names: tuple[str, ...] | None = None
        self.probes: list[ProbeRecord] = []
        self._stack = ExitStack()
        self._scratch: Path | None = None
        self._browser: BrowserSession | None = None
        self._actions = 0

    def names(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = self.setup.available()
        return self._names

    def schema(self, name: str) -> dict[str, Any]:
        return qa_tool_schema(name)

    def brief(self) -> tuple[str, str]:
        return self.setup.rules(), self.setup.facts()

    def run(self, call: ToolCall) -> ToolResult:
        """Run one QA tool call; a mistake the model can fix comes back as an error result."""
        result = self._run(call)
        if self.setup.shown is not None:
            self.setup.shown(result.text)
        return result

    def _run(self, call: ToolCall) -> ToolResult:
        model = _ARGS.get(call.name)
        raw = parse_arguments(call.arguments)
        if model is None or isinstance(raw, str):
            return ToolResult(f"{call.name}: {raw if isinstance(raw, str) else 'unknown tool'}", is_error=True)
        try:
            args = model.model_validate(raw)
        except ValidationError as exc:
            return ToolResult(f"{call.name}: {describe_validation_error(exc, model)}", is_error=True)
        if isinstance(args, RunProbeArgs):
            return self._probe(args)
        return self._browse(args)

    def cite(self, verdict: Verdict) -> Verdict:
        """Before the evidence check: a finding that cites a failed interaction and quotes nothing quotes
        that interaction's problems, as the browser answered them (which the check accepts)."""
        findings = [f if f.evidence else self._quoting(f) for f in verdict.findings]
        return verdict if findings == verdict.findings else verdict.model_copy(update={"findings": findings})

    def settle(self, verdict: Verdict) -> Verdict:
        """After the check: cited interactions add their screenshots, and a failed probe blocks whatever
        the critic answered, with its code and output as evidence."""
        findings = [self._with_interaction(f) for f in verdict.findings]
        proven = [_probe_finding(p) for p in self.probes if p.proven]
        if not proven and findings == verdict.findings:
            return verdict
        kind = "request_changes" if proven else verdict.verdict
        return Verdict(verdict=kind, findings=[*findings, *proven])

    def close(self) -> None:
        """End the browser, the app and the scratch copy; journal the browser's interactions."""
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            self._stack.close()

    def _probe(self, args: RunProbeArgs) -> ToolResult:
        if len(self.probes) >= MAX_PROBES:
            return ToolResult(f"error: the probe budget ({MAX_PROBES} per gate) is spent; give your verdict", is_error=True)
        probe = run_probe(args, self._tree(), self.setup.context, self.setup.baseline)
        if probe.refused is None:
            self.probes.append(probe)
        self._record("qa_probe", {**probe.record(), "content": trim_middle(probe.content, EVIDENCE_CHARS),
                                  "output": trim_middle(probe.output, EVIDENCE_CHARS)})
        return ToolResult(redact(probe_result_text(probe)), is_error=probe.refused is not None,
                          data={"proven": probe.proven})

    def _browse(self, args: ToolArgs) -> ToolResult:
        if self._actions >= MAX_BROWSER_ACTIONS:
            return ToolResult(f"error: the browser budget ({MAX_BROWSER_ACTIONS} actions per gate) is spent; give "
                              "your verdict", is_error=True)
        self._actions += 1
        browser = self._browser_session()
        before = len(browser.interactions)
        started = time.monotonic()
        try:
            text = self._browser_action(browser, args)
        except BrowserFailed as exc:
            self._record("qa_browser_failed", {"reason": str(exc)})
            return ToolResult(f"error: the browser could not start here: {exc}; judge without it", is_error=True)
        for step in browser.interactions[before:]:
            self._record("qa_browser", {**step.record(), "sandboxed": browser.sandboxed,
                                        "duration_s": round(time.monotonic() - started, 3)})
        return ToolResult(redact(text))

    @staticmethod
    def _browser_action(browser: BrowserSession, args: ToolArgs) -> str:
        if isinstance(args, BrowserOpenArgs):
            return browser.open(args.path)
        if isinstance(args, BrowserClickArgs):
            return browser.click(args.role, args.name)
        if isinstance(args, BrowserFillArgs):
            return browser.fill(args.role, args.name, args.value)
        if isinstance(args, BrowserReadArgs):
            return browser.read(args.what)
        return browser.app_log()

    def _tree(self) -> Path:
        if self._scratch is None:
            self._scratch = self._stack.enter_context(scratch_copy(self.setup.context.root, self.setup.index))
        return self._scratch

    def _browser_session(self) -> BrowserSession:
        if self._browser is None:
            assert self.setup.app is not None, "browser tools are offered only for a web app"
            label = f"{self.setup.step}-{self.critic}"
            self._browser = BrowserSession(BrowserSetup(self.setup.app, self._tree(), self.setup.context.sandbox,
                                                        self.setup.context.sandbox_policy, self.setup.run_folder, label))
        return self._browser

    def _cited(self, finding: Finding) -> list[Interaction]:
        """The failed interactions a finding cites as "interaction N"."""
        if self._browser is None:
            return []
        cited = {int(n) for n in _INTERACTION.findall(f"{finding.message} {finding.evidence or ''}")}
        return [i for i in self._browser.failures() if i.number in cited]

    def _quoting(self, finding: Finding) -> Finding:
        cited = self._cited(finding)
        if not cited:
            return finding
        return finding.model_copy(update={"evidence": "\n".join(f"- {p}" for p in cited[0].problems)})

    def _with_interaction(self, finding: Finding) -> Finding:
        """A finding that cites a failed interaction gets where it happened and its screenshot as evidence."""
        lines = [f"interaction {i.number}: {i.action} at {i.url}: {'; '.join(i.problems)}"
                 + (f" (screenshot: {self._shot(i.screenshot)})" if i.screenshot else "") for i in self._cited(finding)]
        return _with_evidence(finding, "\n".join(lines)) if lines else finding

    def _shot(self, relative: str) -> str:
        """Where the screenshot is, as the user's repository sees it: .agent/runs/<id>/qa/<name>.png."""
        return (Path(".agent") / "runs" / self.setup.run_folder.name / relative).as_posix()

    def _record(self, kind: str, fields: dict[str, Any]) -> None:
        if self.setup.record is not None:
            self.setup.record(kind, {"step": self.setup.step, "critic": self.critic, **fields})


def _probe_finding(probe: ProbeRecord) -> Finding:
    failing = ", ".join(probe.failing[:5]) or f"exit code {probe.exit_code}"
    message = (f"Probe test {probe.path} fails on this step's tree ({failing}). It is a regression test you may "
               f"adopt: write it to {probe.path} as given below and make it pass.")
    evidence = f"{probe.path}:\n{probe.content.rstrip()}\n\n{probe.output}"
    return _with_evidence(Finding(severity="high", message=message, file=probe.path), redact(evidence))


def _with_evidence(finding: Finding, evidence: str) -> Finding:
    """`finding` with `evidence` added to what it already quotes."""
    evidence = trim_middle(evidence, EVIDENCE_CHARS)
    return finding.model_copy(update={"evidence": f"{finding.evidence}\n{evidence}" if finding.evidence else evidence})
