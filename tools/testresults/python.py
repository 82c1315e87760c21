"""pytest's and unittest's summaries."""

from __future__ import annotations

import re

from tools.testresults.base import Results, counts, located

PYTEST_SUMMARY = re.compile(
    r"^=*\s*((?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun)(?:, )?)+)"
    r" in [\d.]+s\b|^=*\s*no tests ran in [\d.]+s")
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
PYTEST_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")
PYTEST_WHERE = re.compile(r"^(\S+\.py):(\d+): \w")
PYTEST_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ")
UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$")
UNITTEST_HEAD = re.compile(r"^(?:FAIL|ERROR): (\S+) \((\S+)\)")
PY_FRAME = re.compile(r'^\s*File "(.+?)", line (\d+)')
SEPARATOR = "=" * 20


def read_pytest(text: str) -> Results | None:
    """pytest's closing line (`1 failed, 3 passed in 0.1s`), its FAILED/ERROR ids and where each failed."""
    lines = text.splitlines()
    summary = next((line for line in reversed(lines) if PYTEST_SUMMARY.search(line)), None)
    if summary is None:
        return None
    numbers = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for number, word in PYTEST_COUNT.findall(summary):
        numbers[{"error": "errors", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)] += int(number)
    where = _pytest_locations(lines)
    failing = []
    for line in lines:
        match = PYTEST_FAILED.match(line)
        if match:
            test_id = match.group(1)
            failing.append(located(test_id, where.get(test_id.split("::", 1)[-1].replace("::", "."))))
    return Results(counts(**numbers), failing)


def _pytest_locations(lines: list[str]) -> dict[str, str]:
    """Each failure section's test name → the file:line its traceback ends at."""
    where: dict[str, str] = {}
    name = None
    for line in lines:
        header = PYTEST_SECTION.match(line)
        if header:
            name = header.group(1).removeprefix("ERROR at setup of ").removeprefix("ERROR at teardown of ")
        elif name and (found := PYTEST_WHERE.match(line)):
            where[name] = f"{found.group(1)}:{found.group(2)}"
    return where


def read_unittest(text: str) -> Results | None:
    """unittest's `Ran N tests` and `FAILED (failures=1, errors=2, skipped=1)`, and each FAIL/ERROR id."""
    lines = text.splitlines()
    ran = next((int(m.group(1)) for line in reversed(lines) if (m := UNITTEST_RAN.match(line))), None)
    end = next((m for line in reversed(lines) if (m := UNITTEST_END.match(line))), None)
    if ran is None or end is None:
        return None
    detail = {k.strip(): int(v) for k, v in re.findall(r"([\w ]+)=(\d+)", end.group(2) or "")}
    failures, errors = detail.get("failures", 0), detail.get("errors", 0)
    skipped = detail.get("skipped", 0) + detail.get("expected failures", 0)
    return Results(counts(ran - failures - errors - skipped, failures, errors, skipped), _unittest_failing(lines))


def _unittest_failing(lines: list[str]) -> list[str]:
    """`module.Class.test (file:line)` for each FAIL/ERROR block, the line where its traceback ends."""
    failing: list[str] = []
    current: str | None = None
    where: str | None = None
    for line in [*lines, SEPARATOR]:
        head = UNITTEST_HEAD.match(line)
        if (head or line.startswith(SEPARATOR)) and current:
            failing.append(located(current, where))
            current, where = None, None
        if head:
            method, owner = head.groups()
            # Python 3.11 names the whole id in brackets; older versions only the class.
            current = owner if owner.endswith(f".{method}") else f"{owner}.{method}"
        elif current and (frame := PY_FRAME.match(line)):
            where = f"{frame.group(1)}:{frame.group(2)}"
    return failing
