"""Test results read from a runner's output (and its report files): counts and failing test ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tools.testdetect import Runner
from tools.testresults.base import Results
from tools.testresults.js import read_jest, read_mocha, read_tap, read_vitest
from tools.testresults.jvm import read_gradle, read_junit_reports, read_maven
from tools.testresults.native import read_cargo, read_ctest, read_go_json
from tools.testresults.python import read_pytest, read_unittest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
# Tried in this order when the runner is not known; the most distinctive summaries first, pytest's
# generic `N passed, M failed` last.
READERS: dict[str, Callable[[str], Results | None]] = {
    "go": read_go_json, "cargo": read_cargo, "maven": read_maven, "gradle": read_gradle, "ctest": read_ctest,
    "jest": read_jest, "vitest": read_vitest, "mocha": read_mocha, "node": read_tap,
    "unittest": read_unittest, "pytest": read_pytest,
}


@dataclass
class Parsed:
    """What a test run says: counts (None when unknown), failing ids, and why no test ran."""

    runner: str
    counts: dict[str, int] | None
    failing: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def ran(self) -> bool | None:
        """Whether any test ran (passed or failed); None when the output does not tell."""
        if self.counts is None:
            if self.problem:
                return False
            return True if any(not f.endswith("[build failed]") for f in self.failing) else None
        return self.counts["passed"] + self.counts["failed"] > 0


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def parse_output(output: str, runner: Runner = "unknown", root: Path | None = None,
                 reports_since: float | None = None) -> Parsed | None:
    """The results of a test run: Maven's or Gradle's XML reports when this run wrote them, else its
    output (Gradle's console, for one) read first as `runner`'s and then as any other runner's; None
    when nothing recognises it."""
    text = strip_ansi(output)
    if runner in ("maven", "gradle") and root is not None and reports_since is not None:
        found = read_junit_reports(root, reports_since)
        if found is not None and found.counts and sum(found.counts.values()):
            return _relative(Parsed(runner, found.counts, found.failing, found.problem), root)
    order = [runner, *(n for n in READERS if n != runner)] if runner in READERS else list(READERS)
    for name in order:
        found = READERS[name](text)
        if found is not None:
            return _relative(Parsed(name, found.counts, found.failing, found.problem), root)
    return None


def _relative(parsed: Parsed, root: Path | None) -> Parsed:
    """Failing ids name files relative to the project (runners print absolute paths in the sandbox)."""
    if root is not None:
        prefix = str(root).rstrip("/") + "/"
        parsed.failing = [item.replace(prefix, "") for item in parsed.failing]
    return parsed
