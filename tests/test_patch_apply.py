"""The engine on real files: every flaw a model makes, with the exact file that results."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tools.patch import PatchResult, apply_patch

MODULE = """\
import os


def load(path):
    with open(path) as handle:
        data = handle.read()
    return data


def save(path, data):
    with open(path, "w") as handle:
        handle.write(data)
    return len(data)


def main():
    data = load("in.txt")
    save("out.txt", data)
"""


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def read(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode()


def applied(text: str, root: Path) -> PatchResult:
    result = apply_patch(text, root)
    assert result.ok, result.message
    return result


def test_exact_diff_applies_and_reports_the_method(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    result = applied("--- a/m.py\n+++ b/m.py\n@@ -5,3 +5,3 @@\n     with open(path) as handle:\n"
                     "-        data = handle.read()\n+        data = handle.read().strip()\n     return data\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace("handle.read()\n", "handle.read().strip()\n")
    assert result.files[0].hunks[0].method == "exact"
    assert result.files[0].hunks[0].line == 5
    assert "applied m.py: 1 hunk (exact at line 5)" in result.message


@pytest.mark.parametrize("header", ["@@ -40,3 +40,3 @@", "@@ @@", "@@", "@@ -5,99 +5,1 @@"])
def test_wrong_missing_line_numbers_and_wrong_counts(tmp_path: Path, header: str):
    make(tmp_path, {"m.py": MODULE})
    applied(f"--- a/m.py\n+++ b/m.py\n{header}\n def save(path, data):\n"
            "-    with open(path, \"w\") as handle:\n+    with open(path, \"a\") as handle:\n"
            "         handle.write(data)\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace('"w"', '"a"')


def test_missing_ab_prefixes_and_a_real_directory_named_a(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE, "a/x.txt": "one\ntwo\n"})
    applied("--- m.py\n+++ m.py\n@@ -1 +1 @@\n-import os\n+import sys\n", tmp_path)
    applied("--- a/x.txt\n+++ a/x.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n", tmp_path)
    assert read(tmp_path, "m.py").startswith("import sys\n")
    assert read(tmp_path, "a/x.txt") == "one\n2\n"


def test_blank_context_lines_without_their_space(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    applied("--- a/m.py\n+++ b/m.py\n@@ -8,4 +8,5 @@\n \n\n def save(path, data):\n+    \"\"\"Write data.\"\"\"\n"
            "     with open(path, \"w\") as handle:\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace("data):\n", "data):\n    \"\"\"Write data.\"\"\"\n", 1)


def test_trailing_whitespace_differences_keep_the_files_own_context(tmp_path: Path):
    make(tmp_path, {"t.py": "a = 1   \nb = 2\t\nc = 3\n"})
    result = applied("--- a/t.py\n+++ b/t.py\n@@ -1,3 +1,3 @@\n a = 1\n-b = 2\n+b = 20\n c = 3\n", tmp_path)
    assert read(tmp_path, "t.py") == "a = 1   \nb = 20\nc = 3\n"
    assert result.files[0].hunks[0].method == "whitespace"


def test_crlf_file_stays_crlf_under_an_lf_patch(tmp_path: Path):
    make(tmp_path, {"w.txt": b"one\r\ntwo\r\nthree\r\n"})
    applied("--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,4 @@\n one\n-two\n+2\n+2.5\n three\n", tmp_path)
    assert (tmp_path / "w.txt").read_bytes() == b"one\r\n2\r\n2.5\r\nthree\r\n"


def test_lf_file_stays_lf_under_a_crlf_patch(tmp_path: Path):
    make(tmp_path, {"u.txt": "one\ntwo\nthree\n"})
    applied("--- a/u.txt\r\n+++ b/u.txt\r\n@@ -1,3 +1,3 @@\r\n one\r\n-two\r\n+2\r\n three\r\n", tmp_path)
    assert (tmp_path / "u.txt").read_bytes() == b"one\n2\nthree\n"


def test_one_misremembered_context_line_is_tolerated(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    result = applied("--- a/m.py\n+++ b/m.py\n@@ -10,6 +10,6 @@\n def save(path, data):\n"
                     "     with open(path, \"w\") as fh:\n         handle.write(data)\n-    return len(data)\n"
                     "+    return len(data) + 1\n \n \n def main():\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace("len(data)", "len(data) + 1")
    assert result.files[0].hunks[0].method == "fuzzy"


def test_dedented_context_leaves_added_lines_as_written(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    result = applied("--- a/m.py\n+++ b/m.py\n@@ -4,3 +4,4 @@\n def load(path):\n"
                     " with open(path) as handle:\n     data = handle.read()\n+        data = data.upper()\n"
                     "     return data\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace("read()\n", "read()\n        data = data.upper()\n")
    assert result.files[0].hunks[0].method == "indent"


def test_a_wholly_reindented_hunk_is_reindented_back(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    applied("m.py\n<<<<<<< SEARCH\nwith open(path) as handle:\n    data = handle.read()\n=======\n"
            "with open(path, encoding=\"utf-8\") as handle:\n    data = handle.read()\n>>>>>>> REPLACE\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace("open(path) as", 'open(path, encoding="utf-8") as')


def test_hunks_out_of_order_apply_to_their_own_places(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    applied("--- a/m.py\n+++ b/m.py\n@@ -17,3 +17,3 @@\n def main():\n-    data = load(\"in.txt\")\n"
            "+    data = load(\"input.txt\")\n     save(\"out.txt\", data)\n@@ -1,3 +1,4 @@\n import os\n+import sys\n \n \n",
            tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace("import os\n", "import os\nimport sys\n").replace("in.txt", "input.txt")


def test_several_files_new_deleted_and_renamed(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE, "old.txt": "bye\n", "keep.txt": "same\n"})
    result = applied(
        "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-import os\n+import os.path\n"
        "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+def helper(x):\n+    return x * 2\n"
        "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/keep.txt b/kept.txt\nsimilarity index 100%\nrename from keep.txt\nrename to kept.txt\n", tmp_path)
    assert read(tmp_path, "m.py").startswith("import os.path\n")
    assert read(tmp_path, "pkg/new.py") == "def helper(x):\n    return x * 2\n"
    assert not (tmp_path / "old.txt").exists() and not (tmp_path / "keep.txt").exists()
    assert read(tmp_path, "kept.txt") == "same\n"
    assert [f.action for f in result.files] == ["applied", "created", "deleted", "renamed"]


def test_fenced_diff_inside_prose(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    applied("Sure! Here is the patch:\n\n```diff\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n-import os\n+import os  # noqa\n"
            " \n \n```\n\nLet me know if you need more.\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace("import os\n", "import os  # noqa\n")


def test_search_replace_blocks_on_one_file_apply_in_order(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    applied("m.py\n<<<<<<< SEARCH\n    save(\"out.txt\", data)\n=======\n    save(\"out.txt\", data.upper())\n>>>>>>> REPLACE\n\n"
            "m.py\n<<<<<<< SEARCH\n    save(\"out.txt\", data.upper())\n=======\n    save(\"out.txt\", data.lower())\n"
            ">>>>>>> REPLACE\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace('save("out.txt", data)', 'save("out.txt", data.lower())')


def test_v4a_update_move_add_delete_and_end_of_file(tmp_path: Path):
    make(tmp_path, {"src/a.py": "class A:\n    def f(self):\n        return 1\n\n\nx = 1\n", "src/old.py": "pass\n"})
    applied("*** Begin Patch\n*** Update File: src/a.py\n*** Move to: src/b.py\n@@ class A:\n     def f(self):\n"
            "-        return 1\n+        return 2\n@@\n \n-x = 1\n+x = 2\n*** End of File\n*** Add File: src/new.py\n"
            "+print('new')\n*** Delete File: src/old.py\n*** End Patch\n", tmp_path)
    assert not (tmp_path / "src/a.py").exists() and not (tmp_path / "src/old.py").exists()
    assert read(tmp_path, "src/b.py") == "class A:\n    def f(self):\n        return 2\n\n\nx = 2\n"
    assert read(tmp_path, "src/new.py") == "print('new')\n"


def test_file_without_final_newline_keeps_that_state(tmp_path: Path):
    make(tmp_path, {"n.txt": "a\nb"})
    applied("--- a/n.txt\n+++ b/n.txt\n@@ -1,2 +1,3 @@\n a\n b\n+c\n", tmp_path)
    assert read(tmp_path, "n.txt") == "a\nb\nc"


def test_encoding_bom_and_mode_are_kept(tmp_path: Path):
    make(tmp_path, {"l.txt": "caf\xe9\nbar\n".encode("latin-1"), "b.txt": b"\xef\xbb\xbfone\ntwo\n", "run.sh": "echo 1\n"})
    os.chmod(tmp_path / "run.sh", 0o755)
    applied("--- a/l.txt\n+++ b/l.txt\n@@ -1,2 +1,2 @@\n caf\xe9\n-bar\n+baz\n--- a/b.txt\n+++ b/b.txt\n"
            "@@ -1,2 +1,2 @@\n one\n-two\n+2\n--- a/run.sh\n+++ b/run.sh\n@@ -1 +1 @@\n-echo 1\n+echo 2\n", tmp_path)
    assert (tmp_path / "l.txt").read_bytes() == "caf\xe9\nbaz\n".encode("latin-1")
    assert (tmp_path / "b.txt").read_bytes() == b"\xef\xbb\xbfone\n2\n"
    assert stat.S_IMODE((tmp_path / "run.sh").stat().st_mode) == 0o755


def test_dry_run_checks_without_writing(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    result = apply_patch("--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-import os\n+import sys\n", tmp_path, dry_run=True)
    assert result.ok and result.dry_run and "dry run" in result.message
    assert read(tmp_path, "m.py") == MODULE


def test_a_context_line_that_lost_its_leading_space_is_read_as_context(tmp_path: Path):
    make(tmp_path, {"m.py": MODULE})
    applied("--- a/m.py\n+++ b/m.py\n@@ -16,3 +16,4 @@\ndef main():\n     data = load(\"in.txt\")\n"
            "+    print(len(data))\n     save(\"out.txt\", data)\n", tmp_path)
    assert read(tmp_path, "m.py") == MODULE.replace('in.txt")\n', 'in.txt")\n    print(len(data))\n')


def test_an_existing_empty_file_can_be_filled_by_a_new_file_patch(tmp_path: Path):
    make(tmp_path, {"empty.py": ""})
    applied("empty.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n", tmp_path)
    assert read(tmp_path, "empty.py") == "x = 1\n"
