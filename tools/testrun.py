"""The run_tests tool: the project's test command in the sandbox, its results read per runner."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.redact import redact
from tools.registry import ToolArgs, ToolContext, ToolResult
from tools.sandbox import RunOutcome, run_sandboxed
from tools.testdetect import Detected, detect_test_command, runner_of
from tools.testresults import Parsed, parse_output, strip_ansi
from tools.testresults.native import go_json_text

FAILING_SHOWN = 30  # failing ids listed in the result's head; the output below has the rest
FAILING_KEPT = 100  # failing ids kept in the result's data (journal, report, critics)
NO_TEST_COMMAND = ("No test command is configured and none was detected ({why}). Set test_cmd in .agent.toml "
                   "or pass --test-cmd; a repository with no tests can accept that with allow_no_tests = true "
                   "(or --allow-no-tests).")
NOT_FOUND_EXIT = 127  # the shell's answer when the command's program does not exist
# Why no test ran: nothing to run (no command, none collected), or a runner that broke before running any.
NoTestsKind = Literal["no_command", "none_collected", "runner_failed"]


class RunTestsArgs(ToolArgs):
    """Run the project's tests in a sandbox (no network; only the repository is writable). Answers
    the exit code, pass/fail counts, the failing test ids and the output (trimmed in the middle when long)."""

    args: list[str] | None = Field(
        None, description="Extra arguments appended to the test command: test ids or flags, e.g. "
                          "['tests/test_app.py::test_x', '-x'] for pytest, ['-run', 'TestX'] for go test.",
    )


def resolve_test_command(root: Path, configured: str | None) -> Detected | None:
    """The configured command (test_cmd / --test-cmd) when set, else the one detected in `root`."""
    if configured:
        return Detected(configured, runner_of(configured), "configured: test_cmd")
    return detect_test_command(root)


def describe_test_command(found: Detected | None) -> str:
    """One line for the user: which command runs the tests and why, or that none was found."""
    if found is None:
        return "tests: none found (no test command configured or detected); set test_cmd or pass --test-cmd"
    return f"tests: {found.command} ({found.reason})"


def run_tests(args: RunTestsArgs, ctx: ToolContext) -> ToolResult:
    """The test command (plus the model's arguments, each shell-quoted), run in the sandbox."""
    found = resolve_test_command(ctx.root, ctx.test_command)
    if found is None:
        why = "no pytest, package.json, go.mod, Cargo.toml, pom.xml, Gradle, CMake/CTest or Makefile test setup found"
        return ToolResult(NO_TEST_COMMAND.format(why=why), is_error=True,
                          data={"command": None, "ran": False, "no_tests_kind": "no_command",
                                "no_tests": "no test command was configured or detected"})
    command = " ".join([found.command, *(shlex.quote(arg) for arg in args.args or [])])
    setup_failed = ctx.setup.ensure() if ctx.setup is not None else None
    if setup_failed is not None:
        return ToolResult(redact(setup_failed.failure_text(ctx.setup.timeout_s)),  # type: ignore[union-attr]
                          data={"command": None, "exit_code": None, "setup": setup_failed.record(), "ok": False})
    started = time.time()
    outcome = run_sandboxed(command, ctx.root, timeout_s=ctx.test_timeout_s, mode=ctx.sandbox,
                            output_cap=max(ctx.output_cap - 1000, 1000), policy=ctx.sandbox_policy)
    parsed = parse_output(outcome.output, found.runner, root=ctx.root, reports_since=started - 1)
    return _result(command, found, outcome, parsed, ctx)


def _result(command: str, found: Detected, outcome: RunOutcome, parsed: Parsed | None, ctx: ToolContext) -> ToolResult:
    kind, no_tests = _no_tests_reason(outcome, parsed) or (None, None)
    if outcome.timed_out:
        status = f"TIMED OUT after {ctx.test_timeout_s:g} s (the whole process group was killed)"
    else:
        status = f"exit code {outcome.exit_code}"
    lines = [f"$ {command}", f"{status}; {summary_line(parsed)} ({outcome.duration_s:.1f} s)"]
    if no_tests:
        lines.append(f"NO TEST RAN: {no_tests}")
    if parsed is not None and parsed.failing:
        shown = parsed.failing[:FAILING_SHOWN]
        more = f" (and {len(parsed.failing) - len(shown)} more)" if len(parsed.failing) > len(shown) else ""
        lines.append(f"failing ({len(parsed.failing)}): " + "; ".join(shown) + more)
    if outcome.warning:
        lines.append(f"warning: {outcome.warning}")
    text = strip_ansi(go_json_text(outcome.output) if found.runner == "go" else outcome.output)
    lines.append(redact(text.rstrip("\n")))
    data: dict[str, Any] = {
        "command": command, "runner": parsed.runner if parsed else found.runner, "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out, "sandboxed": outcome.sandboxed, "duration_s": round(outcome.duration_s, 3),
        **((parsed.counts or {}) if parsed else {}), "counts_known": bool(parsed and parsed.counts is not None),
        "failing": parsed.failing[:FAILING_KEPT] if parsed else [], "ran": False if no_tests else (parsed.ran if parsed else None), "no_tests": no_tests,
        "no_tests_kind": kind,
    }
    failed = outcome.timed_out or outcome.exit_code != 0
    # A failing test run is information, not a bad call: is_error stays False so the model reads it as data.
    return ToolResult("\n".join(lines), data={**data, "ok": not failed})


def summary_line(parsed: Parsed | None) -> str:
    """`3 passed, 1 failed, 1 skipped (pytest)`, or that the counts are unknown."""
    if parsed is None:
        return "counts unknown (the output matched no known test runner)"
    if parsed.counts is None:
        return f"counts unknown ({parsed.runner})"
    shown = ", ".join(f"{n} {word}" for word, n in parsed.counts.items() if n) or "0 tests"
    return f"{shown} ({parsed.runner})"


def _no_tests_reason(outcome: RunOutcome, parsed: Parsed | None) -> tuple[NoTestsKind, str] | None:
    """Why no test ran, when none did: the runner could not start, stopped early, or found none."""
    if outcome.timed_out:
        return None  # tests may well have been running: a time-out is a failure, not "no tests"
    if outcome.exit_code == NOT_FOUND_EXIT and (parsed is None or not parsed.ran):
        return "runner_failed", "the test command could not start (exit 127: a program it needs was not found in the sandbox)"
    if parsed is None:
        return None
    if parsed.problem:
        return "runner_failed", parsed.problem
    if parsed.ran is False:
        return "none_collected", f"{parsed.runner} ran no test (zero tests collected)"
    return None
