"""Refusals: nothing is touched, and the message names the file and hunk, says why, and points at
the closest region so the model can fix its patch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.patch import PatchResult, apply_patch

BODY = "".join(f"line {n}\n" for n in range(1, 21))
TWICE = "def handler(event):\n    value = event.get('x')\n    return value + 1\n\n\n" * 2
REMOVE_12 = "--- a/f.txt\n+++ b/f.txt\n@@ -10,5 +10,4 @@\n line 10\n line 11\n-line 12\n line 13\n line 14\n"


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def refused(text: str, root: Path) -> PatchResult:
    before = snapshot(root)
    result = apply_patch(text, root)
    assert not result.ok, result.message
    assert snapshot(root) == before
    assert result.message.startswith("Patch refused; no file was changed.")
    return result


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "f.txt").write_text(BODY)
    (tmp_path / "dup.py").write_text(TWICE)
    return tmp_path


def test_invented_context_is_refused_with_the_closest_region(repo: Path):
    result = refused("--- a/f.txt\n+++ b/f.txt\n@@ -10,7 +10,6 @@\n def made_up(arg):\n    return arg.frob()\n"
                     " line 10\n line 11\n-line 12\n line 13\n line 14\n", repo)
    assert "f.txt hunk 1 of 1 (@@ -10,7 +10,6 @@)" in result.message
    assert re.search(r"Closest region: lines 8-14 \(\d+% similar\)", result.message)
    assert "'def made_up(arg):'; the file has 'line 8'" in result.message
    assert result.files[0].hunks[0].error is not None


def test_a_mismatched_removed_line_is_refused_even_when_context_matches(repo: Path):
    result = refused("--- a/f.txt\n+++ b/f.txt\n@@ -10,5 +10,4 @@\n line 10\n line 11\n-line twelve\n line 13\n"
                     " line 14\n", repo)
    assert "the patch's removed line 'line twelve'; the file has 'line 12'" in result.message


def test_a_target_found_twice_without_line_numbers_is_ambiguous(repo: Path):
    result = refused("--- a/dup.py\n+++ b/dup.py\n@@ @@\n def handler(event):\n     value = event.get('x')\n"
                     "-    return value + 1\n+    return value + 2\n", repo)
    assert "dup.py hunk 1 of 1 (@@ @@) matches 2 places equally well (exact): lines 1-3, lines 6-8" in result.message


@pytest.mark.parametrize("start, line", [(1, 1), (6, 6), (7, 6)])
def test_line_numbers_that_point_clearly_at_one_candidate_decide(repo: Path, start: int, line: int):
    result = apply_patch(f"--- a/dup.py\n+++ b/dup.py\n@@ -{start},3 +{start},3 @@\n def handler(event):\n"
                         "     value = event.get('x')\n-    return value + 1\n+    return value + 2\n", repo)
    assert result.ok and result.files[0].hunks[0].line == line
    expected = TWICE.split("\n\n\n")
    expected[0 if line == 1 else 1] = expected[0 if line == 1 else 1].replace("+ 1", "+ 2")
    assert (repo / "dup.py").read_text() == "\n\n\n".join(expected)


def test_line_numbers_halfway_between_candidates_do_not_decide(repo: Path):
    refused("--- a/dup.py\n+++ b/dup.py\n@@ -4,3 +4,3 @@\n def handler(event):\n     value = event.get('x')\n"
            "-    return value + 1\n+    return value + 2\n", repo)


def test_search_replace_matching_twice_is_ambiguous(repo: Path):
    result = refused("dup.py\n<<<<<<< SEARCH\n    return value + 1\n=======\n    return value + 2\n>>>>>>> REPLACE\n", repo)
    assert "SEARCH block 1 matches 2 places" in result.message


def test_multi_file_patch_whose_last_file_fails_touches_nothing(repo: Path):
    (repo / "g.txt").write_text("alpha\nbeta\n")
    result = refused("--- a/g.txt\n+++ b/g.txt\n@@ -1,2 +1,2 @@\n alpha\n-beta\n+gamma\n"
                     "--- /dev/null\n+++ b/brand/new.txt\n@@ -0,0 +1 @@\n+hello\n"
                     "--- a/f.txt\n+++ b/f.txt\n@@ -3,3 +3,3 @@\n no such\n-lines\n+here\n", repo)
    assert not (repo / "brand").exists()
    assert "g.txt: would apply cleanly" in result.message
    assert "f.txt hunk 1 of 1" in result.message
    assert [f.ok for f in result.files] == [True, True, False]


def test_a_write_failure_midway_leaves_every_file_as_it_was(repo: Path):
    (repo / "blocker").write_text("a file where the patch wants a directory\n")
    result = refused(REMOVE_12 + "--- /dev/null\n+++ b/blocker/new.txt\n@@ -0,0 +1 @@\n+x\n", repo)
    assert "could not write blocker/new.txt" in result.message
    assert not [p for p in repo.rglob("*") if "patch-tmp" in p.name]


@pytest.mark.parametrize("path, words", [
    ("../outside.txt", "'..' is not allowed"),
    ("/etc/passwd", "absolute paths"),
    (".git/config", ".git directory"),
    (".env", "secret files"),
])
def test_paths_outside_the_workspace_or_secret_are_refused(repo: Path, path: str, words: str):
    result = refused(f"--- /dev/null\n+++ {path}\n@@ -0,0 +1 @@\n+x\n" + REMOVE_12, repo)
    assert words in result.message


def test_a_symlink_leading_out_is_refused(repo: Path, tmp_path_factory: pytest.TempPathFactory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "t.txt").write_text("a\n")
    (repo / "link").symlink_to(outside)
    refused("--- a/link/t.txt\n+++ b/link/t.txt\n@@ -1 +1 @@\n-a\n+b\n", repo)
    assert (outside / "t.txt").read_text() == "a\n"


def test_missing_file_names_the_file_and_suggests_one_with_that_name(repo: Path):
    (repo / "src").mkdir()
    (repo / "src" / "util.py").write_text("x = 1\n")
    result = refused("--- a/util.py\n+++ b/util.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n", repo)
    assert "util.py: no such file in the repository (files with that name: src/util.py)" in result.message


def test_creating_a_file_that_exists_with_other_content_is_refused(repo: Path):
    result = refused("--- /dev/null\n+++ b/f.txt\n@@ -0,0 +1 @@\n+new\n", repo)
    assert "already exists" in result.message


def test_overlapping_hunks_are_refused(repo: Path):
    result = refused(REMOVE_12 + "@@ -11,3 +11,3 @@\n line 11\n-line 12\n+line XII\n line 13\n", repo)
    assert "overlaps hunk 1" in result.message


def test_a_hunk_that_changes_nothing_is_refused(repo: Path):
    result = refused("--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n line 1\n line 2\n", repo)
    assert "changes nothing" in result.message


def test_an_insertion_without_context_or_line_number_is_refused(repo: Path):
    result = refused("--- a/f.txt\n+++ b/f.txt\n@@ @@\n+new line\n", repo)
    assert "nothing says where it goes" in result.message


def test_an_unreadable_patch_is_a_refusal_not_an_exception(repo: Path):
    result = refused("I could not work out the change, sorry.", repo)
    assert "Could not read the patch: no patch found" in result.message
    assert result.to_json()["status"] == "refused"


def test_binary_files_are_not_patched(repo: Path):
    (repo / "img.bin").write_bytes(b"\x00\x01\x02\n")
    result = refused("--- a/img.bin\n+++ b/img.bin\n@@ -1 +1 @@\n-x\n+y\n", repo)
    assert "binary" in result.message
