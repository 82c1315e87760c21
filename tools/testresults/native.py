"""go test (its -json stream, or its plain text), cargo test and CTest."""

from __future__ import annotations

import json
import re

from tools.testresults.base import Results, counts, first_frame, located

GO_WHERE = re.compile(r"^\s+(\S+\.go):(\d+):")
GO_BUILD_FAILED = re.compile(r"^FAIL\s+(\S+)\s+\[(build|setup) failed\]")
GO_PLAIN_FAIL = re.compile(r"^\s*--- FAIL: (\S+)")
GO_PLAIN_PKG = re.compile(r"^(?:ok  |FAIL|\?   )\t\S+")
CARGO_RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored; \d+ measured")
CARGO_FAILED = re.compile(r"^test (\S+) \.\.\. FAILED$")
CARGO_PANIC = re.compile(r"^thread '([^']+)'.* panicked at (.+?):(\d+):\d+")
CTEST_SUMMARY = re.compile(r"^\d+% tests passed, (\d+) tests? failed out of (\d+)")
CTEST_FAILED = re.compile(r"^\s+\d+ - (.+?) \((\w[\w ]*)\)\s*$")
CTEST_RESULT = re.compile(r"^\s*\d+/\d+ Test\s+#\d+: (\S+) \.+\s*(\**)(\w[\w ]*?)\s+[\d.]+ sec")


def read_go_json(text: str) -> Results | None:
    """`go test -json`: each test's final action, leaf tests only (a parent fails with its subtest)."""
    events = [e for e in (_json_line(line) for line in text.splitlines()) if e is not None]
    if not events:
        return read_go_plain(text)
    final: dict[tuple[str, str], str] = {}
    output: dict[tuple[str, str], list[str]] = {}
    for event in events:
        key = (event.get("Package", ""), event.get("Test") or "")
        if event.get("Action") == "output":
            output.setdefault(key, []).append(event.get("Output", ""))
        elif event.get("Action") in ("pass", "fail", "skip") and key[1]:
            final[key] = event["Action"]
    leaves = {k: v for k, v in final.items() if not any(o[0] == k[0] and o[1].startswith(k[1] + "/") for o in final)}
    tally = {action: sum(1 for v in leaves.values() if v == action) for action in ("pass", "fail", "skip")}
    failing = [located(name, _go_where(output.get((pkg, name), []))) for (pkg, name), v in leaves.items() if v == "fail"]
    broken = [m.group(1) for line in text.splitlines() if (m := GO_BUILD_FAILED.match(line))]
    broken += [_go_build_failure(o) for (pkg, name), o in output.items() if not name and _go_build_failure(o)]
    failing += [f"{pkg} [build failed]" for pkg in dict.fromkeys(broken)]
    if not final and broken:
        return Results(None, failing, f"the build failed before any test ran ({', '.join(dict.fromkeys(broken))})")
    return Results(counts(tally["pass"], tally["fail"], len(set(broken)), tally["skip"]), failing)


def _json_line(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "Action" in event else None


def _go_where(lines: list[str]) -> str | None:
    found = [f"{m.group(1)}:{m.group(2)}" for line in lines if (m := GO_WHERE.match(line))]
    return found[0] if found else None


def _go_build_failure(lines: list[str]) -> str | None:
    for line in lines:
        match = GO_BUILD_FAILED.match(line)
        if match:
            return match.group(1)
    return None


def read_go_plain(text: str) -> Results | None:
    """go test without -json: failing tests and build failures; counts are not printed, so unknown."""
    lines = text.splitlines()
    if not any(GO_PLAIN_PKG.match(line) or GO_BUILD_FAILED.match(line) for line in lines):
        return None
    failing, where = [], {}
    for i, line in enumerate(lines):
        match = GO_PLAIN_FAIL.match(line)
        if match:
            failing.append(match.group(1))
            where[match.group(1)] = _go_where(lines[i + 1:i + 2])
    leaves = [f for f in failing if not any(other.startswith(f + "/") for other in failing)]
    broken = [m.group(1) for line in lines if (m := GO_BUILD_FAILED.match(line))]
    problem = f"the build failed before any test ran ({', '.join(broken)})" if broken and not failing else None
    return Results(None, [located(f, where.get(f)) for f in leaves] + [f"{p} [build failed]" for p in broken], problem)


def read_cargo(text: str) -> Results | None:
    """cargo test: every binary's `test result:` line summed, each FAILED test and where it panicked."""
    lines = text.splitlines()
    totals = [m.groups() for line in lines if (m := CARGO_RESULT.match(line))]
    if not totals:
        errors = [line.strip() for line in lines if line.startswith("error: could not compile")]
        return Results(None, [], f"the build failed before any test ran ({errors[0]})") if errors else None
    passed, failed, ignored = (sum(int(t[i]) for t in totals) for i in range(3))
    panics = {m.group(1): f"{m.group(2)}:{m.group(3)}" for line in lines if (m := CARGO_PANIC.match(line))}
    failing = [located(m.group(1), panics.get(m.group(1))) for line in lines if (m := CARGO_FAILED.match(line))]
    return Results(counts(passed, failed, 0, ignored), list(dict.fromkeys(failing)))


def read_ctest(text: str) -> Results | None:
    """CTest's `N% tests passed, M tests failed out of T` and its list of failed tests."""
    lines = text.splitlines()
    summary = next((m for line in reversed(lines) if (m := CTEST_SUMMARY.match(line))), None)
    if summary is None:
        if any("No tests were found" in line for line in lines):
            return Results(counts(0, 0))
        return None
    failed, total = int(summary.group(1)), int(summary.group(2))
    # CTest counts a skipped test among the passed ones, and a test that could not start among the failed.
    skipped = sum(1 for line in lines if (m := CTEST_RESULT.match(line)) and m.group(3) == "Skipped")
    start = next((i for i, line in enumerate(lines) if line.startswith("The following tests FAILED")), len(lines))
    failing = []
    for line in lines[start + 1:]:
        match = CTEST_FAILED.match(line)
        if match:
            failing.append(located(match.group(1), _ctest_where(lines, match.group(1))))
    return Results(counts(total - failed - skipped, failed, 0, skipped), failing)


def _ctest_where(lines: list[str], name: str) -> str | None:
    """The first file:line in the output CTest printed for test `name` (with --output-on-failure)."""
    for i, line in enumerate(lines):
        match = CTEST_RESULT.match(line)
        if match and match.group(1) == name:
            block = []
            for after in lines[i + 1:]:
                if CTEST_RESULT.match(after) or after.strip().startswith("Start ") or CTEST_SUMMARY.match(after):
                    break
                block.append(after)
            return first_frame(block)
    return None


def go_json_text(output: str) -> str:
    """The text `go test -json` wraps in events, as go test would print it without -json."""
    pieces = []
    for line in output.splitlines(keepends=True):
        event = _json_line(line)
        if event is None:
            pieces.append(line)
        elif event.get("Action") == "output":
            text = event.get("Output", "")
            # The "=== RUN"/"--- PASS" chatter -json always carries (as -v would): keep failures only.
            if not text.lstrip().startswith(("=== RUN", "=== PAUSE", "=== CONT", "--- PASS", "PASS\n")):
                pieces.append(text)
    return "".join(pieces)
