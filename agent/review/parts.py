"""Cutting a diff into parts that each fit one critic request: whole files first, then hunks.

Text that cannot fit (a single hunk over the budget, or more parts than the review allows) is
named in `skipped_files`, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.review.diff import ReviewFile
from agent.review.model import SkippedFile

CHARS_PER_TOKEN = 4  # chars ≈ tokens × 4
PROMPT_HEADROOM = 0.85  # of what is left after the prompt: tokenizers count code denser than prose
MAX_PARTS = 24


@dataclass
class DiffPart:
    index: int  # 1-based
    total: int
    files: list[str]
    text: str


@dataclass
class _Unit:
    path: str
    text: str


@dataclass
class _Packing:
    budget: int
    parts: list[list[_Unit]] = field(default_factory=list)
    size: int = 0

    def add(self, unit: _Unit) -> None:
        if not self.parts or self.size + len(unit.text) + 2 > self.budget:
            self.parts.append([])
            self.size = 0
        self.parts[-1].append(unit)
        self.size += len(unit.text) + 2


def part_budget_chars(context_tokens: int, completion_tokens: int, prompt_chars: int) -> int:
    """Characters of diff one request may carry: the context minus the answer's budget and the prompt."""
    tokens = context_tokens - completion_tokens - prompt_chars // CHARS_PER_TOKEN
    return max(int(tokens * PROMPT_HEADROOM) * CHARS_PER_TOKEN, 1000)


def split_parts(files: list[ReviewFile], budget_chars: int,
                max_parts: int = MAX_PARTS) -> tuple[list[DiffPart], list[SkippedFile]]:
    """Parts of at most `budget_chars` each (files whole when they fit, else hunk by hunk), and what was left out."""
    skipped: list[SkippedFile] = []
    packing = _Packing(budget_chars)
    for review_file in files:
        for unit in _units(review_file, budget_chars, skipped):
            packing.add(unit)
    kept = packing.parts[:max_parts]
    for dropped in packing.parts[max_parts:]:
        for path in dict.fromkeys(u.path for u in dropped):
            skipped.append(SkippedFile(path=path, reason=f"review budget exhausted (more than {max_parts} parts)"))
    parts = [DiffPart(i + 1, len(kept), list(dict.fromkeys(u.path for u in units)),
                      "\n\n".join(u.text for u in units)) for i, units in enumerate(kept)]
    return parts, skipped


def _units(review_file: ReviewFile, budget: int, skipped: list[SkippedFile]) -> list[_Unit]:
    """The file as one unit when it fits, else one unit per hunk; hunks over the budget are skipped."""
    whole = review_file.text()
    if len(whole) <= budget:
        return [_Unit(review_file.path, whole)]
    units = []
    count = len(review_file.hunks)
    for number, hunk in enumerate(review_file.hunks, 1):
        text = f"{review_file.header(f' (hunk {number} of {count})')}\n{hunk.text}"
        if len(text) <= budget:
            units.append(_Unit(review_file.path, text))
        else:
            what = "the file" if count == 1 else f"hunk {number} of {count}, lines {hunk.first}-{hunk.last}"
            skipped.append(SkippedFile(path=review_file.path,
                                       reason=f"too large to review: {what} is {len(text):,} characters "
                                              f"(budget {budget:,} per request)"))
    return units
