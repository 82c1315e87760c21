"""JavaScript runners: jest, vitest, mocha, and TAP (node --test, tape, node-tap)."""

from __future__ import annotations

import re

from tools.testresults.base import Results, counts, first_frame, located

JEST_TESTS = re.compile(r"^Tests:\s+(.*?)(\d+) total")
JEST_BULLET = re.compile(r"^\s+● (.+)$")
JEST_FILE = re.compile(r"^(?:FAIL|PASS)\s+(\S+)")
VITEST_TESTS = re.compile(r"^\s*Tests\s+(.*?)\((\d+)\)\s*$")
VITEST_FAIL = re.compile(r"^\s*FAIL\s+(\S+ > .+?)\s*$")
VITEST_WHERE = re.compile(r"^\s*❯ (\S+?):(\d+):\d+")
MOCHA_LINE = re.compile(r"^\s+(\d+) (passing|failing|pending)\b")
MOCHA_ITEM = re.compile(r"^(\s+)(\d+)\) (.+)$")
TAP_COUNT = re.compile(r"^[#ℹ] (tests|pass|fail|skipped|todo|cancelled) (\d+)\s*$")
TAP_RESULT = re.compile(r"^(\s*)(not ok|ok) \d+(?: - (.*?))?(\s+# (SKIP|TODO)\b.*)?$", re.IGNORECASE)
TAP_SUBTEST = re.compile(r"^(\s*)# Subtest: (.+)$")
TAP_LOCATION = re.compile(r"^\s+location: '(.+?):(\d+):\d+'")
TAP_SUITE = re.compile(r"^\s+(?:type: 'suite'|failureType: 'subtestsFailed')")
SPEC_FAILED = re.compile(r"^✖ (.+?) \([\d.]+m?s\)$")
SPEC_AT = re.compile(r"^test at (.+?):(\d+):\d+")


def _tally(text: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (failed|passed|skipped|todo|pending)", text)}


def read_jest(text: str) -> Results | None:
    """jest's `Tests: 1 failed, 2 passed, 3 total`, and each `●` failure with where it was thrown."""
    lines = text.splitlines()
    summary = next((m for line in reversed(lines) if (m := JEST_TESTS.match(line))), None)
    if summary is None:
        return None
    n = _tally(summary.group(1))
    failing, file = [], None
    for i, line in enumerate(lines):
        if (head := JEST_FILE.match(line)):
            file = head.group(1)
        bullet = JEST_BULLET.match(line)
        if bullet and bullet.group(1) != "Test suite failed to run":
            block = []
            for after in lines[i + 1:]:
                if JEST_BULLET.match(after) or JEST_FILE.match(after) or JEST_TESTS.match(after):
                    break
                block.append(after)
            where = first_frame([b for b in block if b.strip().startswith("at ")])
            failing.append(located(f"{file} › {bullet.group(1)}" if file else bullet.group(1), where))
    suites_broken = sum(1 for line in lines if "● Test suite failed to run" in line)
    return Results(counts(n.get("passed", 0), n.get("failed", 0), suites_broken, n.get("skipped", 0) + n.get("todo", 0)),
                   failing)


def read_vitest(text: str) -> Results | None:
    """vitest's `Tests  1 failed | 2 passed (3)`, and each `FAIL file > suite > test` with its ❯ location."""
    lines = text.splitlines()
    summary = next((m for line in reversed(lines) if (m := VITEST_TESTS.match(line))), None)
    if summary is None:
        return None
    n = _tally(summary.group(1))
    failing = []
    for i, line in enumerate(lines):
        fail = VITEST_FAIL.match(line)
        if fail:
            where = next((f"{m.group(1)}:{m.group(2)}" for after in lines[i + 1:i + 40]
                          if (m := VITEST_WHERE.match(after))), None)
            failing.append(located(fail.group(1), where))
    return Results(counts(n.get("passed", 0), n.get("failed", 0), 0, n.get("skipped", 0) + n.get("todo", 0)),
                   list(dict.fromkeys(failing)))


def read_mocha(text: str) -> Results | None:
    """mocha's `N passing / N failing / N pending`, and each numbered failure's title path and frame."""
    lines = text.splitlines()
    n = {m.group(2): int(m.group(1)) for line in lines if (m := MOCHA_LINE.match(line))}
    if "passing" not in n:
        return None
    start = next((i for i, line in enumerate(lines) if (m := MOCHA_LINE.match(line)) and m.group(2) == "failing"),
                 len(lines))
    failing = []
    items = [(i, m) for i, line in enumerate(lines) if i > start and (m := MOCHA_ITEM.match(line))]
    for index, (i, item) in enumerate(items):
        end = items[index + 1][0] if index + 1 < len(items) else len(lines)
        title = [item.group(3).strip()]
        for line in lines[i + 1:end]:
            title.append(line.strip())
            if line.rstrip().endswith(":"):
                break
        name = " > ".join(title).rstrip(":")
        where = first_frame([line for line in lines[i + 1:end] if line.strip().startswith("at ")])
        failing.append(located(name, where))
    return Results(counts(n["passing"], n.get("failing", 0), 0, n.get("pending", 0)), failing)


def read_tap(text: str) -> Results | None:
    """node --test (TAP or spec reporter) by its closing counts; other TAP producers by their ok lines."""
    lines = text.splitlines()
    totals = {m.group(1): int(m.group(2)) for line in lines if (m := TAP_COUNT.match(line))}
    if {"pass", "fail"} <= totals.keys():
        skipped = totals.get("skipped", 0) + totals.get("todo", 0)
        tally = counts(totals["pass"], totals["fail"], totals.get("cancelled", 0), skipped)
        return Results(tally, _tap_failing(lines) or _spec_failing(lines))
    results = [m for line in lines if (m := TAP_RESULT.match(line)) and not m.group(1)]
    if not results or not any(line.startswith("1..") or line.startswith("TAP version") for line in lines):
        return None
    skipped = sum(1 for m in results if m.group(5))
    failed = sum(1 for m in results if m.group(2).lower() == "not ok" and not m.group(5))
    return Results(counts(len(results) - skipped - failed, failed, 0, skipped), _tap_failing(lines))


def _tap_failing(lines: list[str]) -> list[str]:
    """Each `not ok` test that is not a suite failing only through its children, with its location."""
    failing: list[str] = []
    parents: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        sub = TAP_SUBTEST.match(line)
        if sub:
            depth = len(sub.group(1))
            parents = [p for p in parents if p[0] < depth] + [(depth, sub.group(2))]
            continue
        result = TAP_RESULT.match(line)
        if not result or result.group(2).lower() != "not ok" or result.group(5):
            continue
        block = []
        for after in lines[i + 1:]:
            if TAP_RESULT.match(after) or TAP_SUBTEST.match(after):
                break
            block.append(after)
        if any(TAP_SUITE.match(b) for b in block):
            continue
        depth = len(result.group(1))
        path = [name for d, name in parents if d < depth] + [result.group(3) or "?"]
        where = next((f"{m.group(1)}:{m.group(2)}" for b in block if (m := TAP_LOCATION.match(b))), None)
        failing.append(located(" > ".join(path), where))
    return failing


def _spec_failing(lines: list[str]) -> list[str]:
    """node's spec reporter: the `failing tests:` list, each `✖ name` after its `test at file:line`."""
    start = next((i for i, line in enumerate(lines) if "failing tests:" in line), None)
    if start is None:
        return []
    failing, where = [], None
    for line in lines[start:]:
        if (at := SPEC_AT.match(line)):
            where = f"{at.group(1)}:{at.group(2)}"
        elif (fail := SPEC_FAILED.match(line)):
            failing.append(located(fail.group(1), where))
            where = None
    return failing
