"""`agent apply` driven as a user drives it: a subprocess on a real temporary git repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, make_repo

GOOD = "--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,3 @@\n def greet():\n-    return 'hi'\n+    return 'hello'\n \n"
BAD = "--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,3 @@\n def greet():\n-    return 'bye'\n+    return 'hello'\n \n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo")
    (root / "app.py").write_text("def greet():\n    return 'hi'\n\n\ndef main():\n    print(greet())\n")
    (root / "notes.txt").write_text("todo\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "app")
    return root


def write_patch(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "change.patch"
    path.write_text(text)
    return path


def test_apply_prints_one_line_per_file_and_exits_0(cli, repo: Path, tmp_path: Path):
    patch = write_patch(tmp_path, GOOD + "--- a/notes.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-todo\n"
                        "--- /dev/null\n+++ b/docs/readme.md\n@@ -0,0 +1 @@\n+# Docs\n")
    result = cli("apply", str(patch), "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "applied app.py: 1 hunk (exact at line 1)", "deleted notes.txt", "created docs/readme.md"]
    assert (repo / "app.py").read_text().startswith("def greet():\n    return 'hello'\n")
    assert git(repo, "status", "--porcelain").split() == ["M", "app.py", "D", "notes.txt", "??", "docs/"]


def test_refused_patch_exits_1_names_the_hunk_and_changes_nothing(cli, repo: Path, tmp_path: Path):
    result = cli("apply", str(write_patch(tmp_path, BAD)), "--repo", str(repo))
    assert result.exit_code == 1
    assert "app.py hunk 1 of 1 (@@ -1,3 +1,3 @@)" in result.stderr
    assert "Closest region: lines 1-3" in result.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_json_gives_per_file_and_per_hunk_outcomes(cli, repo: Path, tmp_path: Path):
    result = cli("apply", str(write_patch(tmp_path, GOOD.replace("-1,3 +1,3", "-9,3 +9,3"))), "--repo", str(repo), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["ok"], data["status"], data["format"]) == (True, "applied", "unified")
    [file] = data["files"]
    assert (file["path"], file["action"]) == ("app.py", "applied")
    assert [(h["method"], h["line"], h["offset"]) for h in file["hunks"]] == [("offset", 1, -8)]


def test_json_on_refusal_carries_the_hunk_error(cli, repo: Path, tmp_path: Path):
    result = cli("apply", str(write_patch(tmp_path, BAD)), "--repo", str(repo), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "refused" and "hunk 1 of 1" in data["files"][0]["hunks"][0]["error"]


def test_dry_run_changes_nothing(cli, repo: Path, tmp_path: Path):
    result = cli("apply", str(write_patch(tmp_path, GOOD)), "--repo", str(repo), "--dry-run")
    assert result.exit_code == 0 and "dry run" in result.stdout
    assert git(repo, "status", "--porcelain") == ""


def test_patch_from_standard_input(cli, repo: Path):
    result = cli("apply", "-", "--repo", str(repo), input=GOOD)
    assert result.exit_code == 0, result.stderr
    assert "return 'hello'" in (repo / "app.py").read_text()


def test_repo_defaults_to_the_current_directory(cli, repo: Path, tmp_path: Path):
    assert cli("apply", str(write_patch(tmp_path, GOOD)), cwd=repo).exit_code == 0


@pytest.mark.parametrize("case", ["missing file", "empty stdin", "repo not a directory"])
def test_usage_errors_are_one_line_and_exit_2(cli, repo: Path, tmp_path: Path, case: str):
    patch = str(write_patch(tmp_path, GOOD))
    argv, stdin, words = {
        "missing file": (["missing.patch", "--repo", str(repo)], None, "patch file not found: missing.patch"),
        "empty stdin": (["-", "--repo", str(repo)], "  \n", "the patch from standard input is empty"),
        "repo not a directory": ([patch, "--repo", str(tmp_path / "nowhere")], None, "repository is not a directory"),
    }[case]
    result = cli("apply", *argv, input=stdin)
    assert result.exit_code == 2
    assert result.stderr.startswith("agent: ") and result.stderr.strip().count("\n") == 0
    assert words in result.stderr
