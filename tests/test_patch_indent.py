"""Pure pieces of round two on literal text: indentation rules, elision markers, newline markers,
blank-line tolerance and where a hunk at the end of a file goes."""

from __future__ import annotations

import pytest

from tools.patch.detect import parse_patch
from tools.patch.elide import is_marker, says_elided
from tools.patch.fileview import FileView
from tools.patch.indent import Reindent, file_unit, from_evidence, go_raw_lines, recipe_lines
from tools.patch.match import Match, Miss, locate


def test_file_unit_is_tabs_or_the_files_width():
    assert file_unit(["func f() {", "\tx := 1", "\tif x {", "\t\treturn", "\t}", "}"]) == "\t"
    assert file_unit(["a {", "  b {", "    c;", "  }", "}"]) == "  "
    assert file_unit(["no indentation at all"]) is None


def test_evidence_maps_spaces_to_tabs_level_by_level():
    rule = from_evidence([("    ", "\t"), ("        ", "\t\t"), ("", "")], "\t")
    assert rule == Reindent(4, "\t", 0)
    assert rule.apply("            deep();") == "\t\t\tdeep();"
    assert rule.apply("      aligned") == "\t  aligned"  # what is left after whole levels stays alignment


def test_evidence_rescales_widths_and_keeps_a_whole_hunk_shift():
    assert from_evidence([("    ", "  "), ("        ", "    ")], "  ").apply("            x") == "      x"
    assert from_evidence([("", "    "), ("    ", "        ")], "    ").apply("  y") == "      y"
    assert from_evidence([("\t", "\t"), ("", "")], "\t") is None  # the patch already writes it the file's way


def test_makefile_recipe_lines_are_found_after_a_rule():
    flags = recipe_lines(["CC := gcc", "", "build: main.o"], ["    $(CC) -o app main.o", "", "X = 1", "  Y = 2"])
    assert flags == [True, False, False, False]
    assert recipe_lines(["define BANNER"], ["  hello"]) == [False]


def test_go_raw_strings_are_left_alone():
    assert go_raw_lines(["const q = `", "  SELECT 1"], ["  FROM t", "`", "  x := 1"]) == [True, True, False]


@pytest.mark.parametrize("text", ["...", "# ... existing code ...", "  // ... rest unchanged ...", "/* ... */",
                                  "// ...", "<!-- ... -->", "    … other methods …"])
def test_elision_markers(text: str):
    assert is_marker(text)


@pytest.mark.parametrize("text", ["args...", "print('...')", "x = ...  # TODO", "// see ... below for why"])
def test_code_is_not_an_elision_marker(text: str):
    assert not is_marker(text)


def test_only_worded_markers_can_never_be_code():
    assert says_elided("// ... existing code ...") and not says_elided("...")


def hunk_of(patch: str):
    return parse_patch(patch).edits[0].hunks[0]


def test_no_newline_markers_belong_to_the_side_of_the_line_above():
    both = hunk_of("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n\\ No newline at end of file\n")
    assert (both.old_no_newline, both.no_newline_at_end) == (True, True)
    old = hunk_of("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n")
    assert (old.old_no_newline, old.no_newline_at_end) == (True, False)
    new = hunk_of("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n")
    assert (new.old_no_newline, new.no_newline_at_end) == (False, True)


TAIL = ["def a():", "    x = 1", "    return x", "", "def b():", "    x = 1", "    return x"]


def test_a_count_one_too_high_reads_no_blank_line_at_the_end():
    hunk = hunk_of("--- a/f.py\n+++ b/f.py\n@@ -6,3 +6,3 @@\n     x = 1\n-    return x\n+    return x + 1\n")
    assert hunk.old == ["    x = 1", "    return x"]
    found = locate(hunk, FileView(TAIL))
    assert isinstance(found, Match) and found.start == 5


def test_a_blank_line_the_end_of_file_lacks_does_not_carry_the_hunk_up():
    # the patch ends with an empty line, the count makes it a context line; with it the hunk fits
    # only at line 2 (a blank line follows there); the stated line 6 is where it belongs
    hunk = hunk_of("--- a/f.py\n+++ b/f.py\n@@ -6,3 +6,3 @@\n     x = 1\n-    return x\n+    return x + 1\n\n")
    found = locate(hunk, FileView(TAIL))
    assert isinstance(found, Match) and found.start == 5


def test_a_refusal_past_the_end_of_the_file_points_at_the_lines_it_found():
    hunk = hunk_of("--- a/f.py\n+++ b/f.py\n@@ -6,4 +6,4 @@\n     x = 1\n-    return x\n+    return 2\n y = 3\n")
    found = locate(hunk, FileView(TAIL))
    assert isinstance(found, Miss) and found.closest is not None and found.closest.start == 5
