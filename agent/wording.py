"""Small helpers for the words the product prints."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 step`, `2 steps`: the count and the noun in the number it calls for."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
