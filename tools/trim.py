"""Keeping tool output within a budget: the head and the tail survive, the middle is summarised."""

from __future__ import annotations


def omitted_marker(chars: int, lines: int) -> str:
    """The line that stands in for text that was cut out."""
    unit = "line" if lines == 1 else "lines"
    return f"[... {chars:,} characters ({lines:,} {unit}) omitted ...]"


def trim_middle(text: str, limit_chars: int) -> str:
    """`text` unchanged when it fits in `limit_chars`, else its head and tail around a marker line.

    Cuts fall on line boundaries when a line break is near, so the model never sees half a line
    unless a single line is itself longer than the budget. The result never exceeds the limit by
    more than the marker line.
    """
    if len(text) <= limit_chars:
        return text
    budget = max(limit_chars, 0)
    head_len = budget // 2
    tail_len = budget - head_len
    head = text[:head_len]
    tail = text[len(text) - tail_len:] if tail_len else ""
    # Prefer whole lines: back the head up to its last newline, start the tail after its first.
    cut = head.rfind("\n")
    if cut >= head_len // 2:
        head = head[: cut + 1]
    cut = tail.find("\n")
    if 0 <= cut < tail_len // 2:
        tail = tail[cut + 1:]
    middle = text[len(head): len(text) - len(tail)]
    marker = omitted_marker(len(middle), middle.count("\n"))
    if head and not head.endswith("\n"):
        head += "\n"
    return f"{head}{marker}\n{tail}"
