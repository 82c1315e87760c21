"""Maven Surefire's console summary, Gradle's console output, and the JUnit XML reports both write."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tools.testresults.base import Results, counts, located

MAVEN_TOTAL = re.compile(r"^\[(?:INFO|ERROR|WARNING)\] Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)\s*$")
MAVEN_SECTION = re.compile(r"^\[(?:ERROR|WARNING)\] (Failures|Errors|Flakes):\s*$")
MAVEN_ITEM = re.compile(r"^\[(?:ERROR|WARNING)\]\s{3}(\S+?)(?::(\d+))?(?: |$)")
MAVEN_FRAME = re.compile(r"^\s+at (\S+)\.(\w+)\((\w+\.\w+):(\d+)\)")
MAVEN_BUILD_FAILED = re.compile(r"COMPILATION ERROR|Failed to execute goal .*(compiler|resources)|Could not resolve")
# Gradle's console (its test logger's defaults): `RangeTest > lowersValuesAbove() FAILED` for each failing
# test, its exception indented below (`    org.opentest4j.AssertionFailedError: … at RangeTest.java:24`),
# and once a test failed, `5 tests completed, 1 failed, 1 skipped` per test task.
GRADLE_FAILED = re.compile(r"^(?!> )(\S.*? > .+) FAILED$")
GRADLE_EXCEPTION = re.compile(r"^ {4}\S.* at ([\w$-]+\.\w+):(\d+)$")
GRADLE_SUMMARY = re.compile(r"^(\d+) tests? completed(?:, (\d+) failed)?(?:, (\d+) skipped)?$")
GRADLE_MARK = re.compile(r"^(?:BUILD (?:SUCCESSFUL|FAILED)|FAILURE: Build failed|> Task :)")
QUALIFIED_CLASS = re.compile(r"^(?:[a-z_][\w$]*\.)+([A-Z][\w$]*)$")
# Where the two build tools write their JUnit XML reports, relative to a module's folder.
REPORT_GLOBS = ("target/surefire-reports/TEST-*.xml", "*/target/surefire-reports/TEST-*.xml",
                "build/test-results/*/TEST-*.xml", "*/build/test-results/*/TEST-*.xml")


def read_maven(text: str) -> Results | None:
    """Surefire's `Tests run: 4, Failures: 1, Errors: 1, Skipped: 1` totals (one per module, summed)."""
    lines = text.splitlines()
    totals = [tuple(map(int, m.groups())) for line in lines if (m := MAVEN_TOTAL.match(line))]
    if not totals:
        if any("BUILD FAILURE" in line for line in lines) and any(MAVEN_BUILD_FAILED.search(l) for l in lines):
            return Results(None, [], "the build failed before any test ran (see the [ERROR] lines)")
        return None
    run, failures, errors, skipped = (sum(t[i] for t in totals) for i in range(4))
    frames = {f"{m.group(1).rsplit('.', 1)[-1]}.{m.group(2)}": f"{m.group(3)}:{m.group(4)}"
              for line in lines if (m := MAVEN_FRAME.match(line))}
    failing, section = [], None
    for line in lines:
        if (head := MAVEN_SECTION.match(line)):
            section = head.group(1)
        elif section and (item := MAVEN_ITEM.match(line)) and section != "Flakes":
            failing.append(located(item.group(1), frames.get(item.group(1))))
        elif not line.startswith("[ERROR]   ") and not line.startswith("[WARNING]   "):
            section = None
    return Results(counts(run - failures - errors - skipped, failures, errors, skipped), failing)


def read_gradle(text: str) -> Results | None:
    """Gradle's console: failing tests with where they failed, and the counts when it printed them
    (only once a test failed: a green build prints none, and its counts stay unknown)."""
    lines = text.splitlines()
    if not any(GRADLE_MARK.match(line) for line in lines):
        return None
    failing: list[str] = []
    for index, line in enumerate(lines):
        if (failed := GRADLE_FAILED.match(line)):
            below = GRADLE_EXCEPTION.match(lines[index + 1]) if index + 1 < len(lines) else None
            failing.append(located(_gradle_id(failed.group(1)), f"{below.group(1)}:{below.group(2)}" if below else None))
    totals = [tuple(int(n or 0) for n in m.groups()) for line in lines if (m := GRADLE_SUMMARY.match(line.strip()))]
    if totals:
        run, failed, skipped = (sum(t[i] for t in totals) for i in range(3))
        return Results(counts(run - failed - skipped, failed, 0, skipped), failing)
    if not failing and any(line.startswith(("FAILURE: Build failed", "BUILD FAILED")) for line in lines):
        return Results(None, [], f"the build failed before any test ran ({_what_went_wrong(lines)})")
    return Results(None, failing)


def _gradle_id(path: str) -> str:
    """`clamp.RangeTest > lowersValuesAbove` as the XML reports name it: `RangeTest.lowersValuesAbove`."""
    parts = path.split(" > ")
    short = QUALIFIED_CLASS.match(parts[0])
    return ".".join([short.group(1) if short else parts[0], *parts[1:]])


def _what_went_wrong(lines: list[str]) -> str:
    """The first line under Gradle's `* What went wrong:`, with the reason below it when there is one."""
    for index, line in enumerate(lines):
        if line.strip() == "* What went wrong:":
            said = [l.strip().lstrip("> ").strip() for l in lines[index + 1:index + 3] if l.strip() and not l.startswith("*")]
            return " ".join(said) or "see the output"
    return "see the output"


def read_junit_reports(root: Path, since: float) -> Results | None:
    """The JUnit XML reports Surefire or Gradle wrote under `root` after `since` (a stale one is not this run's)."""
    files = sorted({p for glob in REPORT_GLOBS for p in root.glob(glob) if p.stat().st_mtime >= since})
    if not files:
        return None
    tally = counts(0, 0)
    failing: list[str] = []
    for path in files:
        try:
            # The reports are the project's own build output; expat refuses external entities and
            # bounds entity expansion, so a hostile report cannot reach outside or blow up memory.
            suite = ET.parse(path).getroot()
        except ET.ParseError:
            return None
        for case in suite.iter("testcase"):
            _add_case(case, tally, failing)
    return Results(tally, failing)


def _add_case(case: ET.Element, tally: dict[str, int], failing: list[str]) -> None:
    cls, name = case.get("classname", ""), case.get("name", "")
    outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
    if outcome is None:
        tally["passed"] += 1
        return
    kind = {"failure": "failed", "error": "errors", "skipped": "skipped"}[outcome.tag]
    tally[kind] += 1
    if kind == "skipped":
        return
    short = cls.rsplit(".", 1)[-1]
    frame = re.search(rf"at {re.escape(cls)}\.{re.escape(name.split('(')[0])}\((\w+\.\w+):(\d+)\)", outcome.text or "")
    failing.append(located(f"{short}.{name}", f"{frame.group(1)}:{frame.group(2)}" if frame else None))
