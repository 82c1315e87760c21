"""Parsing is a pure function of the patch text: each format read from literal strings."""

from __future__ import annotations

import pytest

from tools.patch.detect import detect_format, parse_patch
from tools.patch.model import FileEdit, HunkLine, PatchParseError


def ops(edit: FileEdit, hunk: int = 0) -> list[tuple[str, str]]:
    return [(line.op, line.text) for line in edit.hunks[hunk].lines]


def test_well_formed_unified_diff_is_read_with_numbers_and_anchor():
    patch = parse_patch("--- a/src/m.py\n+++ b/src/m.py\n@@ -3,3 +3,3 @@ def f():\n a\n-b\n+c\n d\n")
    assert patch.format == "unified"
    [edit] = patch.edits
    assert (edit.kind, edit.path, edit.move_to) == ("update", "src/m.py", None)
    assert ops(edit) == [(" ", "a"), ("-", "b"), ("+", "c"), (" ", "d")]
    assert edit.hunks[0].old_start == 3
    assert edit.hunks[0].anchor == "def f():"


def test_wrong_counts_missing_numbers_and_bare_blank_context_are_tolerated():
    text = "--- m.py\n+++ m.py\n@@ -1,99 +1,1 @@\n a\n\n-b\n+c\n@@ @@\n x\n-y\n@@\n+z\n w\n"
    [edit] = parse_patch(text).edits
    assert edit.path == "m.py"
    assert ops(edit, 0) == [(" ", "a"), (" ", ""), ("-", "b"), ("+", "c")]
    assert [h.old_start for h in edit.hunks] == [1, None, None]
    assert ops(edit, 2) == [("+", "z"), (" ", "w")]


def test_trailing_bare_blank_line_is_dropped_unless_the_counts_need_it():
    loose = parse_patch("--- a/m\n+++ b/m\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\n").edits[0]
    assert ops(loose) == [(" ", "a"), ("-", "b"), ("+", "c")]
    counted = parse_patch("--- a/m\n+++ b/m\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n\n").edits[0]
    assert ops(counted) == [(" ", "a"), ("-", "b"), ("+", "c"), (" ", "")]


def test_prose_and_fences_around_a_diff_are_ignored():
    text = "Here is the fix:\n```diff\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n```\nThat should do it.\n"
    [edit] = parse_patch(text).edits
    assert ops(edit) == [(" ", "a"), ("-", "b"), ("+", "c")]


def test_crlf_patch_text_is_read_like_lf():
    lf = parse_patch("--- a/m\n+++ b/m\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n")
    crlf = parse_patch("--- a/m\r\n+++ b/m\r\n@@ -1,2 +1,2 @@\r\n a\r\n-b\r\n+c\r\n")
    assert crlf.edits[0].hunks[0].lines == lf.edits[0].hunks[0].lines


def test_git_headers_new_deleted_and_renamed_files():
    text = (
        "diff --git a/new.sh b/new.sh\nnew file mode 100755\nindex 0000000..e69de29\n--- /dev/null\n+++ b/new.sh\n"
        "@@ -0,0 +1 @@\n+echo hi\n"
        "diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/a.txt b/b.txt\nsimilarity index 100%\nrename from a.txt\nrename to b.txt\n"
    )
    new, gone, moved = parse_patch(text).edits
    assert (new.kind, new.path, new.executable, ops(new)) == ("create", "new.sh", True, [("+", "echo hi")])
    assert (gone.kind, gone.path) == ("delete", "old.txt")
    assert (moved.kind, moved.path, moved.move_to, moved.hunks) == ("update", "a.txt", "b.txt", [])


def test_several_files_in_one_diff_keep_their_order():
    text = "--- a/one\n+++ b/one\n@@ -1 +1 @@\n-1\n+one\n--- a/two\n+++ b/two\n@@ -1 +1 @@\n-2\n+two\n"
    assert [e.path for e in parse_patch(text).edits] == ["one", "two"]


def test_no_newline_marker_applies_to_the_new_side_only():
    [edit] = parse_patch("--- a/m\n+++ b/m\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n").edits
    assert not edit.hunks[0].no_newline_at_end
    [edit] = parse_patch("--- a/m\n+++ b/m\n@@ -1 +1 @@\n-a\n+b\n\\ No newline at end of file\n").edits
    assert edit.hunks[0].no_newline_at_end


def test_search_replace_blocks_with_paths_in_every_usual_spelling():
    text = (
        "Change the greeting:\n\nsrc/app.py\n```python\n<<<<<<< SEARCH\ndef hi():\n    return 'hi'\n=======\n"
        "def hi():\n    return 'hello'\n>>>>>>> REPLACE\n```\n\n**src/b.py**\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
        ">>>>>>> REPLACE\n<<<<<<< SEARCH\ny = 1\n=======\ny = 2\n>>>>>>> REPLACE\n"
    )
    patch = parse_patch(text)
    assert patch.format == "search-replace"
    assert [e.path for e in patch.edits] == ["src/app.py", "src/b.py", "src/b.py"]
    assert ops(patch.edits[0]) == [(" ", "def hi():"), ("-", "    return 'hi'"), ("+", "    return 'hello'")]


def test_search_replace_with_empty_search_creates_a_file():
    [edit] = parse_patch("new.py\n<<<<<<< SEARCH\n=======\nprint(1)\n>>>>>>> REPLACE\n").edits
    assert (edit.kind, edit.path, edit.hunks[0].new) == ("create", "new.py", ["print(1)"])


def test_v4a_patch_with_every_kind_of_file_operation():
    text = (
        "I will apply:\n*** Begin Patch\n*** Update File: src/a.py\n*** Move to: src/b.py\n@@ class A:\n"
        "     def f(self):\n-        return 1\n+        return 2\n\n@@\n x\n-y\n*** End of File\n"
        "*** Add File: src/new.py\n+print('new')\n+\n*** Delete File: src/old.py\n*** End Patch\nDone.\n"
    )
    patch = parse_patch(text)
    assert patch.format == "v4a"
    update, add, delete = patch.edits
    assert (update.kind, update.path, update.move_to) == ("update", "src/a.py", "src/b.py")
    assert update.hunks[0].anchor == "class A:"
    assert ops(update, 0) == [(" ", "    def f(self):"), ("-", "        return 1"), ("+", "        return 2")]
    assert update.hunks[1].at_end and ops(update, 1) == [(" ", "x"), ("-", "y")]
    assert (add.kind, add.hunks[0].new) == ("create", ["print('new')", ""])
    assert (delete.kind, delete.path) == ("delete", "src/old.py")


def test_detection_picks_the_format_from_its_markers():
    assert detect_format("*** Begin Patch\n*** Add File: x\n+1\n*** End Patch") == "v4a"
    assert detect_format("x.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE") == "search-replace"
    assert detect_format("--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b") == "unified"


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("Sorry, I cannot produce a patch for that.", "no patch found"),
    ("@@ -1 +1 @@\n-a\n+b\n", "no file header"),
    ("x.py\n<<<<<<< SEARCH\na\n=======\nb\n", ">>>>>>> REPLACE"),
    ("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", "no file path"),
    ("*** Begin Patch\n*** Update File: x\n*** End Patch\n", "no lines to change"),
])
def test_unreadable_patches_raise_a_parse_error_that_says_what_to_fix(text: str, words: str):
    with pytest.raises(PatchParseError, match=words):
        parse_patch(text)


def test_hunk_old_and_new_sides():
    [edit] = parse_patch("--- a/m\n+++ b/m\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n").edits
    assert edit.hunks[0].old == ["a", "b", "d"] and edit.hunks[0].new == ["a", "c", "d"]
    assert edit.hunks[0].lines[1] == HunkLine("-", "b")
