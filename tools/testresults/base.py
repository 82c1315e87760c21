"""What every results reader answers: counts (None when unknown) and the failing test ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A stack frame or runner line naming where a test failed: (path):(line)[:(column)].
FRAME = re.compile(r"\(?((?:[A-Za-z]:)?[^\s():'\"]+\.[A-Za-z]+):(\d+)(?::\d+)?\)?")


@dataclass
class Results:
    """Counts by kind (None when the output does not tell), failing ids, and why no test ran."""

    counts: dict[str, int] | None
    failing: list[str] = field(default_factory=list)
    problem: str | None = None  # the runner stopped before running any test, and why


def counts(passed: int, failed: int, errors: int = 0, skipped: int = 0) -> dict[str, int]:
    """The counts record every reader fills."""
    return {"passed": passed, "failed": failed, "errors": errors, "skipped": skipped}


def located(test_id: str, where: str | None) -> str:
    """`test_id (file:line)` when the runner said where, else the id alone."""
    return f"{test_id} ({where})" if where else test_id


def first_frame(lines: list[str], skip: tuple[str, ...] = ("node_modules", "node:", "/rustc/")) -> str | None:
    """The first `file:line` in `lines` that is the project's own code, not a dependency's."""
    for line in lines:
        for match in FRAME.finditer(line):
            path = match.group(1)
            if not any(part in path for part in skip):
                return f"{path}:{match.group(2)}"
    return None
