"""Every tool judges the file a path leads to, not its name: a link to a secret (a symbolic or a
hard link, planted by a test run) leaks it through no tool, no critic prompt and no commit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from agent.testing import ScriptedServer
from conftest import git, make_repo
from gitsafe_helpers import call, critic_prompts, one_step, tool_results

SECRET = "ultramarine-4471"  # matches no redaction pattern: only the tools keep it out


def test_links_to_a_secret_leak_it_nowhere(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".env").write_text(f"favourite_colour={SECRET}\n")  # a project that commits its dev .env
    git(repo, "add", "-f", ".env")
    git(repo, "commit", "-qm", "dev env")
    plant = "ln -sf .env alias.txt; ln -f .env hard.txt; true"  # what a test run can do in the worktree
    patch = "--- a/hard.txt\n+++ b/hard.txt\n@@ -1 +1 @@\n-favourite_colour=blue\n+favourite_colour=red\n"
    script = one_step(call("run_tests"), call("search", pattern="colour"), call("read_file", path="alias.txt"),
                      call("read_file", path="hard.txt"), call("list_files"),
                      call("write_file", path="alias.txt", content="overwritten\n"), call("write_patch", patch=patch))
    with ScriptedServer(script) as server:
        result = cli("run", "make the change", "--repo", str(repo), "--base-url", server.base_url,
                     "--test-cmd", plant, "--json", "--yes")
        results = tool_results(server)
        critics = critic_prompts(server)
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded", result.stderr
    worktree = Path(report["worktree"])
    assert os.readlink(worktree / "alias.txt") == ".env" and (worktree / "hard.txt").stat().st_nlink == 2
    _, searched, via_link, via_hard_link, listed, written, patched = results[:7]
    assert searched == "No matches for 'colour'."
    assert "secret files" in via_link and "hard links" in via_hard_link
    assert "alias.txt" not in listed and "hard.txt" not in listed and "secret file(s) hidden" in listed
    assert "refused" in written and "refused" in patched
    assert (worktree / ".env").read_text() == f"favourite_colour={SECRET}\n"
    assert all(SECRET not in text for text in results)
    assert SECRET not in critics and "b/alias.txt" not in critics and "b/hard.txt" not in critics  # not in the diff
    committed = git(repo, "show", "--name-only", "--format=", report["branch"])
    assert "alias.txt" not in committed and "hard.txt" not in committed
    journal = (repo / ".agent" / "runs" / report["run_id"] / "events.jsonl").read_text()
    assert SECRET not in journal
