"""Reading test results: each reader on the real output of its runner, captured on this machine.

The files in tests/data/runner_output/ are what the runners printed for small projects with known
failures (see their names); the expected counts and failing ids below were checked by hand against them.
Gradle 8's console samples are the exception: they follow the formats in Gradle's own source and tests
(GRADLE.md there says which); Gradle 4.4.1's were captured.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tools.testresults import parse_output

DATA = Path(__file__).parent / "data" / "runner_output"
# Where each capture was made: runners that print absolute paths are read relative to it.
ROOTS = {"node": Path("/tmp/cap/nd"), "unittest": Path("/tmp/cap/py")}


def counts(passed: int, failed: int, errors: int = 0, skipped: int = 0) -> dict[str, int]:
    return {"passed": passed, "failed": failed, "errors": errors, "skipped": skipped}


CASES = [
    # file, runner hint, runner read, counts, failing ids
    ("pytest_fail.txt", "pytest", "pytest", counts(1, 3, 0, 1),
     ["test_mod.py::SubTest::test_err (test_mod.py:14)", "test_mod.py::SubTest::test_sub (test_mod.py:11)",
      "test_mod.py::test_plain (test_mod.py:21)"]),
    ("pytest_no_tests.txt", "pytest", "pytest", counts(0, 0), []),
    ("unittest_fail.txt", "unittest", "unittest", counts(1, 1, 1, 1),
     ["test_mod.SubTest.test_err (test_mod.py:14)", "test_mod.SubTest.test_sub (test_mod.py:11)"]),
    ("go_test_json_fail.txt", "go", "go", counts(2, 2, 0, 1),
     ["TestSub (calc_test.go:13)", "TestTable/pos (calc_test.go:22)"]),
    ("go_test_json_pass.txt", "go", "go", counts(4, 0, 0, 1), []),
    ("go_test_json_no_test_files.txt", "go", "go", counts(0, 0), []),
    ("cargo_test_fail.txt", "cargo", "cargo", counts(3, 2, 0, 1),
     ["tests::subs (src/lib.rs:10)", "integ_sub (tests/integration.rs:4)"]),
    ("node_test_tap_fail.txt", "node", "node", counts(1, 2, 0, 1),
     ["subtracts (test/calc.test.js:5)", "suite > inner sub (test/calc.test.js:7)"]),
    ("node_test_spec_fail.txt", "node", "node", counts(1, 2, 0, 1),
     ["subtracts (test/calc.test.js:5)", "inner sub (test/calc.test.js:7)"]),
    ("jest_fail.txt", "jest", "jest", counts(1, 2, 0, 1),
     ["test/calc.test.js › calc › subtracts (test/calc.test.js:4)",
      "test/calc.test.js › calc › nested › inner sub (test/calc.test.js:6)"]),
    ("vitest_fail.txt", "vitest", "vitest", counts(1, 2, 0, 1),
     ["test/calc.test.js > calc > subtracts (test/calc.test.js:5)",
      "test/calc.test.js > calc > nested > inner sub (test/calc.test.js:7)"]),
    ("mocha_fail.txt", "mocha", "mocha", counts(1, 2, 0, 1),
     ["calc > subtracts (test/calc.test.js:5)", "calc > nested > inner sub (test/calc.test.js:7)"]),
    ("maven_surefire_fail.txt", "maven", "maven", counts(1, 1, 1, 1),
     ["CalcTest.subtracts (CalcTest.java:9)", "CalcTest.errors (CalcTest.java:10)"]),
    ("ctest_fail.txt", "ctest", "ctest", counts(1, 1), ["sub (test_sub.cpp:3)"]),
    ("gradle_console_fail.txt", "gradle", "gradle", counts(4, 2, 0, 1),
     ["RangeTest.lowersValuesAbove() (RangeTest.java:24)", "RangeTest.Bounds.rejectsInvertedRange() (RangeTest.java:41)"]),
    ("gradle4_console_fail.txt", "gradle", "gradle", counts(4, 1), ["RangeTest.lowersValuesAbove (RangeTest.java:24)"]),
]


@pytest.mark.parametrize("name, hint, runner, expected, failing", CASES, ids=[c[0] for c in CASES])
def test_each_runner_is_read_from_its_real_output(name: str, hint: str, runner: str, expected: dict,
                                                 failing: list[str]) -> None:
    parsed = parse_output((DATA / name).read_text(), hint, root=ROOTS.get(runner))
    assert parsed is not None and parsed.runner == runner
    assert parsed.counts == expected and parsed.failing == failing
    assert parsed.ran is (expected["passed"] + expected["failed"] > 0)


@pytest.mark.parametrize("name, hint, runner, expected, failing", CASES, ids=[c[0] for c in CASES])
def test_output_is_recognised_without_knowing_the_runner(name: str, hint: str, runner: str, expected: dict,
                                                        failing: list[str]) -> None:
    """A configured command (`make test`, `npm test`) says nothing of its runner: the output does."""
    parsed = parse_output((DATA / name).read_text(), "unknown", root=ROOTS.get(runner))
    assert parsed is not None and (parsed.runner, parsed.counts) == (runner, expected)


@pytest.mark.parametrize("name, problem", [
    ("cargo_test_compile_error.txt", "the build failed before any test ran (error: could not compile `rs` (lib)"),
    ("go_test_json_build_failed.txt", "the build failed before any test ran (example.com/calc)"),
    ("gradle_console_compile_error.txt", "the build failed before any test ran (Execution failed for task "
                                         "':compileJava'. Compilation failed; see the compiler error output"),
    ("gradle4_console_compile_error.txt", "the build failed before any test ran (Execution failed for task "
                                          "':compileJava'. Compilation failed; see the compiler error output"),
])
def test_a_build_that_fails_before_any_test_is_no_test_run(name: str, problem: str) -> None:
    parsed = parse_output((DATA / name).read_text(), "unknown")
    assert parsed is not None and parsed.counts is None and parsed.ran is False
    assert parsed.problem is not None and parsed.problem.startswith(problem)


def test_go_without_json_names_the_failures_but_not_counts_it_never_printed() -> None:
    parsed = parse_output((DATA / "go_test_plain_fail.txt").read_text(), "go")
    assert parsed is not None and parsed.counts is None and parsed.ran is True
    assert parsed.failing == ["TestSub (calc_test.go:13)", "TestTable/pos (calc_test.go:22)"]


@pytest.mark.parametrize("output", ["", "Build OK\nall good\n", "make: Nothing to be done for 'test'.\n",
                                    "ok 1 of them passed, I think\n"])
def test_output_no_runner_prints_gives_unknown_counts_not_zeros(output: str) -> None:
    assert parse_output(output, "unknown") is None


def test_surefire_xml_reports_of_this_run_are_read_and_stale_ones_ignored(tmp_path: Path) -> None:
    reports = tmp_path / "target" / "surefire-reports"
    reports.mkdir(parents=True)
    shutil.copy(DATA / "surefire_report.xml", reports / "TEST-calc.CalcTest.xml")
    console = "[INFO] BUILD FAILURE\n"  # the console says nothing of the tests: the reports do
    parsed = parse_output(console, "maven", root=tmp_path, reports_since=0)
    assert parsed is not None and parsed.counts == counts(1, 1, 1, 1)
    assert parsed.failing == ["CalcTest.errors (CalcTest.java:10)", "CalcTest.subtracts (CalcTest.java:9)"]
    os.utime(reports / "TEST-calc.CalcTest.xml", (1_000_000, 1_000_000))  # written by an earlier build
    assert parse_output(console, "maven", root=tmp_path, reports_since=2_000_000) is None


def test_colour_codes_do_not_hide_the_counts() -> None:
    raw = (DATA / "vitest_fail.txt").read_text()
    assert "\x1b[" in raw  # vitest colours its summary even into a pipe
    parsed = parse_output(raw, "vitest")
    assert parsed is not None and parsed.counts == counts(1, 2, 0, 1)


@pytest.mark.parametrize("name", ["gradle_console_pass.txt", "gradle4_console_pass.txt"])
def test_a_green_gradle_build_prints_no_counts_so_they_stay_unknown(name: str) -> None:
    parsed = parse_output((DATA / name).read_text(), "unknown")
    assert parsed is not None and parsed.runner == "gradle"
    assert parsed.counts is None and parsed.failing == [] and parsed.problem is None and parsed.ran is None


def test_gradle_reports_of_this_run_win_over_its_console(tmp_path: Path) -> None:
    reports = tmp_path / "build" / "test-results" / "test"
    reports.mkdir(parents=True)
    shutil.copy(DATA / "surefire_report.xml", reports / "TEST-calc.CalcTest.xml")  # the same JUnit XML schema
    parsed = parse_output((DATA / "gradle_console_pass.txt").read_text(), "gradle", root=tmp_path, reports_since=0)
    assert parsed is not None and parsed.counts == counts(1, 1, 1, 1)
