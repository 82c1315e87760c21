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


def commit_files(repo: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        (repo / rel).write_bytes(content.encode() if isinstance(content, str) else content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")


def test_a_two_line_tail_with_a_count_one_too_high_applies(cli, repo: Path, tmp_path: Path):
    # app.py has 6 lines; `-5,3` claims three lines from line 5, the hunk has two
    patch = "--- a/app.py\n+++ b/app.py\n@@ -5,3 +5,3 @@\n def main():\n-    print(greet())\n+    print(greet().upper())\n"
    result = cli("apply", str(write_patch(tmp_path, patch)), "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    assert (repo / "app.py").read_text().endswith("def main():\n    print(greet().upper())\n")


def test_a_refusal_at_the_end_of_a_file_names_the_lines_it_did_find(cli, repo: Path, tmp_path: Path):
    patch = ("--- a/app.py\n+++ b/app.py\n@@ -5,3 +5,3 @@\n def main():\n-    print(greet(1))\n+    print(greet(2))\n"
             " main()\n")
    result = cli("apply", str(write_patch(tmp_path, patch)), "--repo", str(repo))
    assert result.exit_code == 1
    assert "no line of the hunk occurs in the file" not in result.stderr
    assert "Closest region: lines 5-6" in result.stderr and "(past the end of the file)" in result.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_a_makefile_recipe_written_with_spaces_is_written_with_a_tab(cli, repo: Path, tmp_path: Path):
    commit_files(repo, {"Makefile": "all: build\n\nbuild:\n\tgo build ./...\n\ntest:\n\tgo test ./...\n"})
    patch = "--- a/Makefile\n+++ b/Makefile\n@@ -6,2 +6,3 @@\n test:\n     go test ./...\n+    go vet ./...\n"
    result = cli("apply", str(write_patch(tmp_path, patch)), "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    assert (repo / "Makefile").read_text().endswith("test:\n\tgo test ./...\n\tgo vet ./...\n")


def test_a_binary_change_without_content_refuses_the_whole_patch(cli, repo: Path, tmp_path: Path):
    commit_files(repo, {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00"})
    patch = GOOD + ("diff --git a/logo.png b/logo.png\nindex 1111111..2222222 100644\n"
                    "Binary files a/logo.png and b/logo.png differ\n")
    result = cli("apply", str(write_patch(tmp_path, patch)), "--repo", str(repo))
    assert result.exit_code == 1
    assert "logo.png: the patch says this binary file changed but carries no content" in result.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_a_git_binary_patch_applies_exactly_with_its_text_hunks(cli, repo: Path, tmp_path: Path):
    image = bytes(range(256)) * 8
    commit_files(repo, {"logo.png": image})
    (repo / "logo.png").write_bytes(image[:700] + b"new pixels" + image[710:])
    (repo / "icon.bin").write_bytes(b"\x00\x01\x02\x03" * 30)
    (repo / "app.py").write_text((repo / "app.py").read_text().replace("'hi'", "'hello'"))
    git(repo, "add", "-A")
    patch = git(repo, "diff", "--cached", "--binary")
    wanted = {p: (repo / p).read_bytes() for p in ("logo.png", "icon.bin", "app.py")}
    git(repo, "reset", "-q", "--hard")
    result = cli("apply", str(write_patch(tmp_path, patch)), "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    assert {p: (repo / p).read_bytes() for p in wanted} == wanted
