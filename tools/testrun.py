"""The run_tests tool: the project's test command in the sandbox, with counts parsed from its summary."""

from __future__ import annotations

import os
import re
import shlex
import sys
import tomllib
from pathlib import Path

from pydantic import Field

from agent.redact import redact
from tools.project_env import project_python
from tools.registry import ToolArgs, ToolContext, ToolResult
from tools.sandbox import run_sandboxed

COUNT_WORDS = {"passed": "passed", "failed": "failed", "error": "errors", "errors": "errors", "skipped": "skipped",
               "xfailed": "xfailed", "xpassed": "xpassed", "deselected": "deselected"}
COUNT = re.compile(r"\b(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")


class RunTestsArgs(ToolArgs):
    """Run the project's tests in a sandbox (no network; only the repository is writable). Answers
    the exit code, pass/fail counts and the output (trimmed in the middle when long)."""

    args: list[str] | None = Field(
        None, description="Extra arguments for the test runner: test ids or flags, e.g. ['tests/test_app.py::test_x', '-x'].",
    )


def detect_test_command(root: Path) -> str | None:
    """`python -m pytest -q` when the project looks like it uses pytest, else None; the python is the
    project virtualenv's when pytest is installed there, else this interpreter."""
    python = project_python(root, Path(os.environ["HOME"]) if os.environ.get("HOME") else None) or sys.executable
    pytest_cmd = f"{shlex.quote(str(python))} -m pytest -q"
    if (root / "tests").is_dir() or (root / "pytest.ini").is_file() or (root / "conftest.py").is_file():
        return pytest_cmd
    if _has_section(root / "setup.cfg", "[tool:pytest]") or _has_section(root / "tox.ini", "[pytest]"):
        return pytest_cmd
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            config = tomllib.loads(pyproject.read_text(encoding="utf-8", errors="replace"))
        except tomllib.TOMLDecodeError:
            return None
        if "pytest" in config.get("tool", {}):
            return pytest_cmd
    return None


def _has_section(path: Path, header: str) -> bool:
    return path.is_file() and header in path.read_text(encoding="utf-8", errors="replace")


def parse_counts(output: str) -> dict[str, int]:
    """Counts from the last summary line shaped like pytest's `1 failed, 3 passed, 1 skipped in 0.12s`."""
    for line in reversed(output.splitlines()):
        found = COUNT.findall(line)
        if found:
            counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
            for number, word in found:
                key = COUNT_WORDS[word]
                counts[key] = counts.get(key, 0) + int(number)
            return counts
    return {}


def run_tests(args: RunTestsArgs, ctx: ToolContext) -> ToolResult:
    """The test command (plus the model's arguments, each shell-quoted), run in the sandbox."""
    base = ctx.test_command or detect_test_command(ctx.root)
    if base is None:
        return ToolResult("No test command is configured and none was detected (no pytest setup found). "
                          "The user can set test_command in .agent.toml.", is_error=True)
    command = " ".join([base, *(shlex.quote(arg) for arg in args.args or [])])
    setup_failed = ctx.setup.ensure() if ctx.setup is not None else None
    if setup_failed is not None:
        return ToolResult(redact(setup_failed.failure_text(ctx.setup.timeout_s)),  # type: ignore[union-attr]
                          data={"command": None, "exit_code": None, "setup": setup_failed.record(), "ok": False})
    outcome = run_sandboxed(command, ctx.root, timeout_s=ctx.test_timeout_s, mode=ctx.sandbox,
                            output_cap=max(ctx.output_cap - 1000, 1000), policy=ctx.sandbox_policy)
    counts = parse_counts(outcome.output)
    if outcome.timed_out:
        status = f"TIMED OUT after {ctx.test_timeout_s:g} s (the whole process group was killed)"
    else:
        status = f"exit code {outcome.exit_code}"
    summary = ", ".join(f"{n} {word}" for word, n in counts.items() if n) or "no test counts found"
    lines = [f"$ {command}", f"{status}; {summary} ({outcome.duration_s:.1f} s)"]
    if outcome.warning:
        lines.append(f"warning: {outcome.warning}")
    lines.append(redact(outcome.output.rstrip("\n")))
    data = {"command": command, "exit_code": outcome.exit_code, "timed_out": outcome.timed_out,
            "sandboxed": outcome.sandboxed, "duration_s": round(outcome.duration_s, 3), **counts}
    failed = outcome.timed_out or outcome.exit_code != 0
    # A failing test run is information, not a bad call: is_error stays False so the model reads it as data.
    return ToolResult("\n".join(lines), data={**data, "ok": not failed})
