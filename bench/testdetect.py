"""Figures for test-command detection and result reading (printed, not asserted).

1. Detection over the workspace fixtures: the detected command against the one each project's
   developers run.
2. Reading results: each fixture's detected command really run (in the sandbox, as run_tests runs
   it), its counts and failing ids against the fixture's documented state; plus every captured
   runner output in tests/data/runner_output read without knowing its runner.

A fixture whose toolchain is missing here is reported as skipped, with the reason.
Usage: python bench/testdetect.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tools.registry import ToolContext
from tools.testdetect import detect_test_command
from tools.testrun import RunTestsArgs, run_tests

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "workspace_fixtures"
PY = sys.executable
CMAKE = "cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug && cmake --build build -j 2 && ctest --test-dir build --output-on-failure"


@dataclass(frozen=True)
class Expected:
    fixture: str
    command: str
    counts: tuple[int, int]  # passed, failed
    failing: tuple[str, ...]
    needs: str  # the program the command runs


EXPECTED = [
    Expected("calc_bug", f"{PY} -m pytest -q", (6, 1), ("tests/test_stats.py::test_median_even_length (tests/test_stats.py:20)",), PY),
    Expected("go_wordstats", "go test -json ./...", (3, 1), ("TestWordCountExtraSpaces (wordstats_test.go:13)",), "go"),
    Expected("rust_temperature", "cargo test --no-fail-fast", (2, 2),
             ("tests::boiling_point_in_celsius (src/lib.rs:24)", "body_temperature_round_trips (tests/round_trip.rs:6)"),
             "cargo"),
    Expected("java_clamp", "mvn -B test", (4, 1), ("RangeTest.lowersValuesAbove (RangeTest.java:24)",), "mvn"),
    Expected("cpp_leap", CMAKE, (1, 1), ("leap_years (tests/test_leap_years.cpp:8)",), "cmake"),
    Expected("js_slug", "npm test --", (3, 1), ("slugify > lower-cases every letter (test/slug.test.js:12)",), "npm"),
]


def prepare(expected: Expected, tmp: Path) -> Path:
    """A copy of the fixture, made runnable offline the way the end-to-end tests make it."""
    root = Path(shutil.copytree(FIXTURES / expected.fixture, tmp / expected.fixture))
    if expected.needs == "mvn":
        (root / ".mvn").mkdir()
        (root / ".mvn/maven.config").write_text("-o\n-Dmaven.repo.local=/usr/share/maven-repo\n")
    if expected.needs == "npm":
        # The dev dependency, as setup_cmd installs it in a run (here with network, outside the sandbox).
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=root, check=True, capture_output=True)
    return root


def main() -> None:
    detected_ok = ran = counts_ok = ids_ok = 0
    print(f"{'fixture':18} {'detected':8} {'counts':8} {'failing ids':11} {'seconds':>7}  note")
    with tempfile.TemporaryDirectory() as tmp:
        for expected in EXPECTED:
            found = detect_test_command(FIXTURES / expected.fixture)
            hit = found is not None and found.command == expected.command
            detected_ok += hit
            if shutil.which(expected.needs) is None:
                print(f"{expected.fixture:18} {_mark(hit):8} {'-':8} {'-':11} {'-':>7}  skipped: {expected.needs} not installed")
                continue
            root = prepare(expected, Path(tmp))
            started = time.monotonic()
            data = run_tests(RunTestsArgs(), ToolContext(root=root, test_timeout_s=600)).data
            seconds = time.monotonic() - started
            got, ids = (data.get("passed"), data.get("failed")), tuple(data.get("failing", []))
            ran += 1
            counts_ok += got == expected.counts
            ids_ok += ids == expected.failing
            note = "" if got == expected.counts and ids == expected.failing else f"got {got} {ids} {data.get('no_tests') or ''}"
            print(f"{expected.fixture:18} {_mark(hit):8} {_mark(got == expected.counts):8} "
                  f"{_mark(ids == expected.failing):11} {seconds:7.1f}  {note}")
    print(f"\ndetection: {detected_ok}/{len(EXPECTED)} fixtures; results read from real runs: counts "
          f"{counts_ok}/{ran}, failing ids {ids_ok}/{ran}")
    captured()


def _mark(ok: bool) -> str:
    return "ok" if ok else "WRONG"


def captured() -> None:
    """Every captured runner output, read with no hint of its runner."""
    from tools.testresults import parse_output

    files = sorted((ROOT / "tests" / "data" / "runner_output").glob("*.txt"))
    recognised = [f.name for f in files if parse_output(f.read_text(), "unknown") is not None]
    print(f"captured outputs recognised without a runner hint: {len(recognised)}/{len(files)}")


if __name__ == "__main__":
    main()
