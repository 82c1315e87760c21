"""Probe tests: a test file the QA critic writes into a scratch copy of the tree under review and runs
with the project's own test command, in the sandbox. A probe that fails is a proven finding."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from tools.paths import PathRefused, confine
from tools.registry import ToolArgs, ToolContext, ToolResult
from tools.testrun import RunTestsArgs, resolve_test_command, run_tests
from tools.trim import trim_middle

PROBE_MAX_BYTES = 16_000  # one probe file
PROBE_TIMEOUT_S = 180.0  # one probe run, at most (the project's test timeout when shorter)
PROBE_OUTPUT_CHARS = 6_000  # of a probe's output kept as evidence


class RunProbeArgs(ToolArgs):
    """Write a NEW test file (a probe) into a scratch copy of the tree under review and run the project's
    test command on that copy in the sandbox. The repository itself is never changed. Answers the exit
    code, counts, failing test ids and output. A probe that fails proves a defect: it is sent to the
    author as a regression test."""

    path: str = Field(description="Where the probe goes, relative to the repository root, in the project's own "
                                  "test layout (e.g. tests/test_probe_empty.py); must not be an existing file.")
    content: str = Field(min_length=1, description="The whole test file.")
    args: list[str] | None = Field(None, description="Extra arguments for the test command to run only the "
                                                     "probe, e.g. ['tests/test_probe_empty.py'] for pytest.")


@dataclass
class ProbeRecord:
    """One probe and what its run showed; `proven` when it failed on the tree under review."""

    path: str
    content: str
    command: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)
    proven: bool = False
    refused: str | None = None  # why the probe was not run
    output: str = ""
    duration_s: float = 0.0

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_probe(args: RunProbeArgs, scratch: Path, ctx: ToolContext, baseline: dict[str, Any] | None) -> ProbeRecord:
    """Write the probe into `scratch`, run the worktree's test command there, remove the probe again.

    `ctx` is the run's worktree context (its test command and sandbox); `baseline` the judged tree's
    test result, so that a failure the tree already had is not credited to the probe.
    """
    size = len(args.content.encode("utf-8", "surrogatepass"))
    if size > PROBE_MAX_BYTES:
        return ProbeRecord(args.path, args.content, refused=f"the probe is {size:,} bytes; at most {PROBE_MAX_BYTES:,}")
    try:
        target = confine(scratch, args.path, secret_globs=ctx.secret_globs, writing=True)
    except PathRefused as exc:
        return ProbeRecord(args.path, args.content, refused=str(exc))
    if target.exists():
        return ProbeRecord(args.path, args.content, refused=f"{args.path} exists in the tree under review; "
                                                             "a probe is a new file, choose another name")
    found = resolve_test_command(ctx.root, ctx.test_command)
    if found is None:
        return ProbeRecord(args.path, args.content, refused="the project has no test command to run a probe with")
    probe_ctx = dataclasses.replace(
        ctx, root=scratch, test_command=found.command, setup=None, test_timeout_s=min(ctx.test_timeout_s, PROBE_TIMEOUT_S),
        sandbox_policy=dataclasses.replace(ctx.sandbox_policy, project_of=ctx.root))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(args.content, encoding="utf-8")
    try:
        result = run_tests(RunTestsArgs(args=args.args), probe_ctx)
    finally:
        target.unlink(missing_ok=True)
    return _record(args, result, baseline)


def _record(args: RunProbeArgs, result: ToolResult, baseline: dict[str, Any] | None) -> ProbeRecord:
    data = result.data
    counts = {k: data[k] for k in ("passed", "failed", "errors", "skipped") if isinstance(data.get(k), int)}
    failing = list(data.get("failing") or [])
    return ProbeRecord(
        args.path, args.content, command=data.get("command"), exit_code=data.get("exit_code"),
        timed_out=bool(data.get("timed_out")), counts=counts, failing=failing,
        proven=_proven(data, counts, failing, baseline), output=trim_middle(result.text, PROBE_OUTPUT_CHARS),
        duration_s=float(data.get("duration_s") or 0.0))


def _proven(data: dict[str, Any], counts: dict[str, int], failing: list[str], baseline: dict[str, Any] | None) -> bool:
    """Whether the run shows a test failing because of the tree under review, not the probe's own breakage.

    A probe that does not build, a runner that ran nothing and a time-out prove nothing; a failure
    the judged tree already had is not the probe's.
    """
    if data.get("timed_out") or data.get("exit_code") in (0, None) or data.get("ran") is False:
        return False
    before = set((baseline or {}).get("failing") or [])
    new = [f for f in failing if f not in before and not f.endswith("[build failed]")]
    if failing:
        return bool(new) and counts.get("failed", 1) > 0
    if data.get("counts_known"):
        return counts.get("failed", 0) > (baseline or {}).get("failed", 0)
    return (baseline or {}).get("exit_code") == 0


def probe_result_text(probe: ProbeRecord) -> str:
    """What the QA critic reads back."""
    if probe.refused:
        return f"error: probe not run: {probe.refused}"
    verdict = ("PROBE FAILED on the tree under review: this is a proven finding (the gate will report it "
               "with the probe as evidence)." if probe.proven else
               "The probe did not prove a defect (it passed, did not build or ran no test).")
    return f"{verdict}\n{probe.output}"
