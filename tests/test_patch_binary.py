"""Git binary patches, decoded and applied by pure functions, checked against git itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, make_repo
from tools.patch import apply_patch
from tools.patch.binary import apply_delta, blob_hash
from tools.patch.detect import parse_patch
from tools.patch.model import PatchParseError


def test_blob_hash_is_gits_object_id(tmp_path: Path):
    (tmp_path / "f").write_bytes(b"\x00\x01binary\xff")
    expected = subprocess.run(["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert blob_hash(b"\x00\x01binary\xff") == expected


def test_delta_copies_and_inserts():
    source = b"0123456789abcdef"
    # header: source 16, target 9; copy offset 2 size 4; insert "XYZ"; copy offset 14 size 2
    delta = bytes([16, 9, 0x91, 2, 4, 3]) + b"XYZ" + bytes([0x91, 14, 2])
    assert apply_delta(source, delta) == b"2345XYZef"


@pytest.mark.parametrize("delta, words", [
    (bytes([15, 4, 0x91, 0, 4]), "for a 15-byte file"),
    (bytes([16, 4, 0x91, 14, 4]), "copies past the end"),
    (bytes([16, 5, 0x91, 0, 4]), "builds 4 bytes, not the 5"),
    (bytes([16, 1, 0]), "zero opcode"),
])
def test_a_delta_that_does_not_fit_is_an_error(delta: bytes, words: str):
    with pytest.raises(ValueError, match=words):
        apply_delta(b"0123456789abcdef", delta)


def git_binary_diff(tmp_path: Path, before: bytes, after: bytes) -> tuple[Path, str]:
    repo = make_repo(tmp_path / "repo")
    (repo / "img.bin").write_bytes(before)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    (repo / "img.bin").write_bytes(after)
    diff = git(repo, "diff", "--binary")
    git(repo, "checkout", "-q", "--", "img.bin")
    return repo, diff


def test_a_git_delta_rebuilds_the_new_file_exactly(tmp_path: Path):
    before = bytes(range(256)) * 40
    after = before[:5000] + b"changed!" + before[5008:]
    repo, diff = git_binary_diff(tmp_path, before, after)
    assert "\ndelta " in diff
    result = apply_patch(diff, repo)
    assert result.ok, result.message
    assert (repo / "img.bin").read_bytes() == after


def test_a_patch_made_against_other_bytes_is_refused_and_nothing_changes(tmp_path: Path):
    before = bytes(range(256)) * 40
    repo, diff = git_binary_diff(tmp_path, before, before[:100] + b"\x00" + before[101:])
    (repo / "img.bin").write_bytes(before[::-1])
    result = apply_patch(diff, repo)
    assert not result.ok and "made against another version" in result.message
    assert (repo / "img.bin").read_bytes() == before[::-1]


def test_a_text_hunk_on_a_binary_file_is_refused(tmp_path: Path):
    (tmp_path / "img.bin").write_bytes(b"\x00\x01\x02")
    result = apply_patch("--- a/img.bin\n+++ b/img.bin\n@@ -1 +1 @@\n-a\n+b\n", tmp_path)
    assert not result.ok and "cannot patch it as text: it is a binary file" in result.message


@pytest.mark.parametrize("body, words", [
    ("literal 5\n", "does not inflate"),
    ("literal 5\nMc$~{f\n\n", "wrong length"),
    ("literal 5\n%c$~{f&B@6J00t}q6#xJL\n\n", "not a length letter"),
    ("literal 9\nMc$~{f&B@6J00t}q6#xJL\n\n", "declares 9 bytes but holds 5"),
    ("copy 5\n", "must be followed by `literal N` or `delta N`"),
])
def test_damaged_binary_sections_are_unreadable(body: str, words: str):
    patch = "diff --git a/x.bin b/x.bin\nindex 1111111..2222222 100644\nGIT binary patch\n" + body
    with pytest.raises(PatchParseError, match=words):
        parse_patch(patch)
