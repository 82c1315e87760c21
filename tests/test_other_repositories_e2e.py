"""A write into a nested repository or a submodule's folder is refused before it happens, with a
tool error the model reads, by every writing tool; the run goes on and commits what it may."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import ScriptedServer
from conftest import git, make_repo
from gitsafe_helpers import call, one_step, tool_results

NEW_FILE_PATCH = "--- /dev/null\n+++ b/lib/other.py\n@@ -0,0 +1 @@\n+X = 1\n"
RENAME_PATCH = ("diff --git a/README.md b/nested/README.md\nsimilarity index 100%\n"
                "rename from README.md\nrename to nested/README.md\n")


def test_writes_into_a_nested_repository_or_a_submodule_are_refused(tmp_path: Path, cli) -> None:
    library = make_repo(tmp_path / "library", None)
    repo = make_repo(tmp_path / "calc", "calc_bug")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    git(repo, "commit", "-qm", "lib as a submodule")
    script = one_step(call("run_tests"),  # the test run makes a nested repository, as `git init` in a test would
                      call("write_file", path="nested/notes.txt", content="mine\n"),
                      call("write_file", path="lib/new.py", content="X = 1\n"),
                      call("write_patch", patch=NEW_FILE_PATCH), call("write_patch", patch=RENAME_PATCH),
                      call("write_file", path="calc/extra.py", content="Y = 2\n"))
    with ScriptedServer(script) as server:
        result = cli("run", "make the change", "--repo", str(repo), "--base-url", server.base_url,
                     "--test-cmd", "git init -q nested; true", "--json", "--yes")
        _, nested, submodule, new_file, renamed, allowed = tool_results(server)[:6]
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    worktree = Path(report["worktree"])
    assert (worktree / "nested" / ".git").is_dir()
    assert "refused" in nested and "nested is a nested git repository" in nested
    assert "refused" in submodule and "lib is a git submodule" in submodule
    assert "Patch refused" in new_file and "lib is a git submodule" in new_file
    assert "Patch refused" in renamed and "nested is a nested git repository" in renamed
    assert allowed.startswith("Created calc/extra.py")
    assert not (worktree / "nested/notes.txt").exists() and not list((worktree / "lib").iterdir())
    assert (worktree / "README.md").is_file()
    committed = git(repo, "show", "--name-only", "--format=", report["branch"]).split()
    assert committed == ["calc/extra.py"]
