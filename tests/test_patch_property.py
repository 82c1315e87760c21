"""Any unified diff difflib writes, of random edits to random text, applies exactly."""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tools.patch import apply_patch

# A small vocabulary so that texts repeat lines, as code does (blank lines, `return`, braces).
LINES = st.sampled_from(["", "x = 1", "return x", "}", "    pass", "def f():", "  # note", "y = 2  ", "\tz"])
TEXTS = st.lists(LINES, max_size=14).map(lambda lines: "".join(f"{line}\n" for line in lines))


@settings(max_examples=60, deadline=None)
@given(before=TEXTS, after=TEXTS, context=st.integers(min_value=0, max_value=3))
def test_difflib_diffs_apply_exactly(before: str, after: str, context: int):
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "a/f.txt", "b/f.txt", n=context))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "f.txt").write_text(before)
        if diff:
            result = apply_patch(diff, root)
            assert result.ok, f"{diff}\n{result.message}"
        assert (root / "f.txt").read_text() == after
