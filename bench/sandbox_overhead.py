"""Sandbox overhead per test run: the same test command in bubblewrap and as a plain subprocess.

    python bench/sandbox_overhead.py [--runs 10] [--case python]

Each case is a small real project checked out the way a run checks it out (a linked worktree of a
git repository, so the layout, the checkout's dependency folders and the project's environment are
all in play). For each, the median wall time of `run_sandboxed` with `sandbox = "bwrap"` and with
`"none"`, interleaved, after one untimed warm-up each; printed: both medians, the difference and
the ratio. A case whose toolchain is missing is skipped with the reason.

To add a language: append a `Case` to CASES with the fixture folder and its test command.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.sandbox import SandboxMode, detect_sandbox, run_sandboxed  # noqa: E402

FIXTURES = ROOT / "workspace_fixtures"


@dataclass(frozen=True)
class Case:
    """One project to time: a workspace fixture, its test command, and the programs it needs."""

    name: str
    fixture: str
    command: str
    needs: tuple[str, ...] = ()
    setup: str | None = None  # run once in the checkout before timing (untimed), e.g. `npm ci`


CASES: list[Case] = [
    Case("python", "calc_bug", f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"),
    Case("go", "go_wordstats", "go test -json ./...", needs=("go",)),
    Case("rust", "rust_temperature", "cargo test --no-fail-fast", needs=("cargo",)),
    # Maven Central is out of reach: plugins from Debian's packaged repository, offline.
    Case("java", "java_clamp", "mvn -B -o -Dmaven.repo.local=/usr/share/maven-repo test", needs=("mvn",)),
    Case("cpp", "cpp_leap", "cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug && cmake --build build -j 2 "
                            "&& ctest --test-dir build --output-on-failure", needs=("cmake", "g++")),
    Case("js", "js_slug", "npm test --", needs=("npm",), setup="npm ci --no-audit --no-fund"),
]


def checkout_with_worktree(case: Case, where: Path) -> Path:
    """A git repository of the fixture and a linked worktree of it, as a run makes; the worktree."""
    repo = where / case.fixture
    shutil.copytree(FIXTURES / case.fixture, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "fixture"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    if case.setup:
        subprocess.run(case.setup, shell=True, cwd=repo, check=True, capture_output=True)
    worktree = repo / ".agent" / "worktrees" / "bench" / case.fixture
    subprocess.run(["git", "worktree", "add", "-q", str(worktree)], cwd=repo, check=True, capture_output=True)
    return worktree


def timed(command: str, worktree: Path, mode: SandboxMode) -> float:
    start = time.perf_counter()
    outcome = run_sandboxed(command, worktree, timeout_s=600, mode=mode, output_cap=200_000)
    elapsed = time.perf_counter() - start
    if outcome.timed_out or outcome.exit_code is None:
        raise SystemExit(f"{command!r} ({mode}) timed out:\n{outcome.output[-2000:]}")
    return elapsed


def measure(case: Case, runs: int) -> tuple[float, float]:
    """Median seconds per test run (sandboxed, plain), the two modes interleaved run by run."""
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        worktree = checkout_with_worktree(case, Path(tmp))
        times: dict[SandboxMode, list[float]] = {"bwrap": [], "none": []}
        for mode in times:
            timed(case.command, worktree, mode)  # warm-up: caches, bytecode
        for _ in range(runs):
            for mode in times:
                times[mode].append(timed(case.command, worktree, mode))
    return statistics.median(times["bwrap"]), statistics.median(times["none"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--case", action="append", help="only these cases (by name)")
    args = parser.parse_args()
    found = detect_sandbox()
    if not found.available:
        print(f"bubblewrap unavailable: {found.detail}")
        return 1
    print(f"{'case':<10} {'sandboxed':>10} {'plain':>10} {'overhead':>10} {'ratio':>7}   ({args.runs} runs each, median)")
    for case in CASES:
        if args.case and case.name not in args.case:
            continue
        missing = [tool for tool in case.needs if shutil.which(tool) is None]
        if missing:
            print(f"{case.name:<10} skipped: {', '.join(missing)} not installed")
            continue
        sandboxed, plain = measure(case, args.runs)
        print(f"{case.name:<10} {sandboxed * 1000:>8.0f}ms {plain * 1000:>8.0f}ms {(sandboxed - plain) * 1000:>8.0f}ms "
              f"{sandboxed / plain:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
