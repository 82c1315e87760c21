"""The rich console every command prints through."""

from __future__ import annotations

from rich.console import Console

# Wide enough that no line is ever wrapped when the output is not a terminal.
UNWRAPPED_WIDTH = 1_000_000


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that, when that stream is not a terminal, never wraps: a
    table row, a path or a branch name split at 80 columns cannot be copied, grepped or parsed."""
    console = Console(stderr=stderr, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, highlight=False, width=UNWRAPPED_WIDTH)
