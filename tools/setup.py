"""The project's setup command (`setup_cmd`: `npm ci`, `uv sync`, `go mod download`), run once per
worktree before its first test run: in the sandbox, with the network, with no secret in its
environment, under its own timeout. Its failure is a setup failure, never a test failure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from tools.sandbox import RunOutcome, SandboxMode, SandboxPolicy, run_sandboxed

# Setup output is for the user and the model to see why it failed: its tail says that.
SETUP_OUTPUT_CAP = 20_000
# The setup installs dependencies: it needs the network, and gets neither the allow-listed
# variables nor the checkout's dependency folders (it makes the worktree's own).
SETUP_POLICY = SandboxPolicy(network=True, dependencies=False)


@dataclass(frozen=True)
class SetupResult:
    """How the setup went: `ok`, or why not, in a form a tool result and the journal can carry."""

    command: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    output: str
    sandboxed: bool

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0

    def record(self) -> dict[str, Any]:
        return {"command": self.command, "exit_code": self.exit_code, "timed_out": self.timed_out,
                "duration_s": round(self.duration_s, 3), "sandboxed": self.sandboxed}

    def failure_text(self, timeout_s: float) -> str:
        """The tool result for a failed setup: a setup failure, not a test failure."""
        how = f"timed out after {timeout_s:g} s" if self.timed_out else f"exit code {self.exit_code}"
        return (f"SETUP FAILED, no test ran: setup_cmd `{self.command}` {how} ({self.duration_s:.1f} s). "
                "This is a failure of the project's setup, not of its tests; the user can fix setup_cmd "
                f"in .agent.toml.\n{self.output.rstrip()}")


@dataclass
class ProjectSetup:
    """Runs `command` in `root` the first time `ensure` is called; later calls answer the same result.

    A success is remembered in `marker` (the run's folder), so a resumed run does not install again.
    """

    command: str
    root: Path
    marker: Path
    timeout_s: float
    mode: SandboxMode = "auto"
    on_result: Callable[[SetupResult], None] | None = None  # journals the outcome
    hidden: tuple[str, ...] = ()  # the user's untracked files of a run in place: never shown to the setup
    _result: SetupResult | None = field(default=None, init=False, repr=False)

    def ensure(self) -> SetupResult | None:
        """None when the setup has succeeded (now or before); the failed result otherwise."""
        if self._result is None:
            if self._done_before():
                return None
            outcome = run_sandboxed(self.command, self.root, timeout_s=self.timeout_s, mode=self.mode,
                                    output_cap=SETUP_OUTPUT_CAP, policy=replace(SETUP_POLICY, hidden=self.hidden))
            self._result = _result(self.command, outcome)
            if self._result.ok:
                self.marker.write_text(json.dumps(self._result.record()) + "\n")
            if self.on_result is not None:
                self.on_result(self._result)
        return None if self._result.ok else self._result

    def _done_before(self) -> bool:
        try:
            return json.loads(self.marker.read_text()).get("command") == self.command
        except (OSError, ValueError, AttributeError):
            return False


def _result(command: str, outcome: RunOutcome) -> SetupResult:
    return SetupResult(command, outcome.exit_code, outcome.timed_out, outcome.duration_s, outcome.output,
                       outcome.sandboxed)
