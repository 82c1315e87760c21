"""The matching ladder on literal lines: which rung places a hunk, and when it must refuse."""

from __future__ import annotations

from tools.patch.fileview import FileView
from tools.patch.indent import from_evidence
from tools.patch.match import Match, Miss, evidence, locate
from tools.patch.model import Hunk, HunkLine

FILE = FileView([
    "class A:",
    "    def f(self):",
    "        x = 1",
    "        return x",
    "",
    "class B:",
    "    def f(self):",
    "        x = 1",
    "        return x",
    "",
    "def tail():",
    "    pass",
])


def hunk(spec: str, old_start: int | None = None, anchor: str | None = None, at_end: bool = False) -> Hunk:
    lines = [HunkLine(row[0], row[1:]) for row in spec.split("\n")]  # type: ignore[arg-type]
    return Hunk(lines, old_start=old_start, anchor=anchor, at_end=at_end)


def found(h: Hunk, view: FileView = FILE) -> Match:
    result = locate(h, view)
    assert isinstance(result, Match), result
    return result


def missed(h: Hunk, view: FileView = FILE) -> Miss:
    result = locate(h, view)
    assert isinstance(result, Miss), result
    return result


DUPLICATE = "     def f(self):\n-        x = 1\n+        x = 2"


def test_exact_at_the_stated_line_wins_even_over_a_duplicate():
    match = found(hunk(DUPLICATE, old_start=7))
    assert (match.start, match.method, match.chosen_by) == (6, "exact", "stated-line")


def test_duplicate_without_numbers_is_ambiguous_and_lists_both_places():
    miss = missed(hunk(DUPLICATE))
    assert (miss.reason, miss.candidates, miss.method) == ("ambiguous", [1, 6], "exact")


def test_a_near_line_number_picks_the_nearer_duplicate_and_reports_an_offset():
    match = found(hunk(DUPLICATE, old_start=8))
    assert (match.start, match.method, match.chosen_by) == (6, "offset", "line-number")


def test_an_anchor_line_picks_the_duplicate_below_it():
    match = found(hunk(DUPLICATE, anchor="class B:"))
    assert (match.start, match.chosen_by) == (6, "anchor")


def test_end_of_file_picks_the_last_occurrence():
    view = FileView(["x", "y", "x", "y"])
    assert found(hunk(" x\n-y", at_end=True), view).start == 2


def test_whitespace_and_indent_rungs():
    view = FileView(["a = 1  ", "b = 2", "    c = 3"])
    assert found(hunk(" a = 1\n-b = 2\n+b = 3"), view).method == "whitespace"
    shifted = hunk(" c = 3\n+d = 4")
    match = found(shifted, view)
    assert match.method == "indent"
    rule = from_evidence(evidence(match, shifted, view), None)
    assert rule is not None and rule.apply("d = 4") == "    d = 4"


def test_fuzzy_allows_one_similar_context_line():
    match = found(hunk(" class A:\n     def f(self):\n         x = 10\n-        return x\n+        return x + 1\n \n class B:"))
    assert (match.start, match.method) == (0, "fuzzy")
    assert 0.8 < match.similarity < 1


def test_fuzzy_refuses_two_differing_context_lines():
    miss = missed(hunk(" klass A:\n     def f(self):\n         x = 10\n-        return x\n \n class B:"))
    assert miss.reason == "not-found" and miss.closest is not None and miss.closest.start == 0


def test_fuzzy_refuses_an_invented_line_that_resembles_nothing():
    miss = missed(hunk(" import numpy as np\n     def f(self):\n         x = 1\n-        return x\n \n class B:"))
    assert miss.reason == "not-found"


def test_fuzzy_never_lets_a_removed_line_differ():
    assert missed(hunk(" def tail():\n-    passes\n+    return")).reason == "not-found"


def test_fuzzy_needs_enough_agreeing_lines():
    assert missed(hunk(" def tale():\n-    pass\n+    return")).reason == "not-found"


def test_insertions_without_old_lines():
    assert found(hunk("+x"), FileView([])).method == "new-file"
    assert found(hunk("+x", old_start=3)).start == 2
    assert found(hunk("+x", at_end=True)).start == len(FILE)
    assert missed(hunk("+x")).reason == "no-context"


def test_no_line_in_common_gives_no_closest_region():
    miss = missed(hunk(" nothing\n-like\n+this"))
    assert miss.reason == "not-found" and miss.closest is None
