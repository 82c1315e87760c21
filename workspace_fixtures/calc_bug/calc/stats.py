"""Descriptive statistics over a non-empty sequence of numbers."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

Number = float


def _require_values(values: Sequence[Number]) -> None:
    if not values:
        raise ValueError("at least one value is required")


def mean(values: Sequence[Number]) -> float:
    """The arithmetic mean."""
    _require_values(values)
    return sum(values) / len(values)


def median(values: Sequence[Number]) -> float:
    """The middle value; for an even count, the mean of the two middle values."""
    _require_values(values)
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[mid]
    return (ordered[mid] + ordered[mid + 1]) / 2


def mode(values: Sequence[Number]) -> Number:
    """The most common value; ties go to the smallest."""
    _require_values(values)
    counts = Counter(values)
    best = max(counts.values())
    return min(value for value, count in counts.items() if count == best)


def variance(values: Sequence[Number]) -> float:
    """The population variance."""
    centre = mean(values)
    return sum((value - centre) ** 2 for value in values) / len(values)


def value_range(values: Sequence[Number]) -> Number:
    """The difference between the largest and the smallest value."""
    _require_values(values)
    return max(values) - min(values)
