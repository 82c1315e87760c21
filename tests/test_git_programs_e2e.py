"""No git command the agent runs starts a program the model could have written, and a start that
git cannot finish leaves nothing behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.testing import ScriptedServer
from conftest import git, make_repo
from gitsafe_helpers import call, one_step, run_one
from run_helpers import calc_finding, verdict

HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-index-change",
         "reference-transaction", "post-checkout", "fsmonitor")


def _executable_files_patch(folder: str, names: tuple[str, ...], marker: Path) -> str:
    """A unified diff creating one executable script per name; each appends its name to `marker`."""
    parts = []
    for name in names:
        parts.append(f"diff --git a/{folder}/{name} b/{folder}/{name}\nnew file mode 100755\n--- /dev/null\n"
                     f"+++ b/{folder}/{name}\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+echo {name} >> {marker}\n")
    return "".join(parts)


@pytest.mark.parametrize("critic", ["approve", "request_changes"])
def test_hooks_the_model_writes_never_run(tmp_path: Path, cli, critic: str) -> None:
    """husky sets a relative core.hooksPath: a patch that adds hooks there must not run them at the
    gate's diff or at the commit, whatever the critics say; nor may an fsmonitor hook run."""
    repo = make_repo(tmp_path / "calc", "calc_bug")
    git(repo, "config", "core.hooksPath", ".husky/_")
    git(repo, "config", "core.fsmonitor", ".husky/_/fsmonitor")
    marker = tmp_path / "hooks-ran"
    finding = calc_finding("no")
    answer = verdict() if critic == "approve" else verdict("request_changes", finding)
    script = one_step(call("write_patch", patch=_executable_files_patch(".husky/_", HOOKS, marker)), critic=answer)
    with ScriptedServer(script) as server:
        result = cli(*run_one(server, repo, "--max-revisions", "0"))
    report = json.loads(result.stdout)
    assert report["steps"][0]["status"] == ("approved" if critic == "approve" else "blocked"), result.stderr
    worktree = Path(report["worktree"])
    assert (worktree / ".husky/_/post-commit").stat().st_mode & 0o111  # the hooks were there, executable
    assert not marker.exists(), f"hooks ran: {marker.read_text()}"
    if critic == "approve":
        assert ".husky/_/post-commit" in git(repo, "show", "--name-only", "--format=", report["branch"])


def test_a_filter_that_runs_a_script_of_the_working_tree_is_refused(tmp_path: Path, cli) -> None:
    """git runs filter drivers outside the sandbox: one whose command is a script the model can
    rewrite is a configuration error, before any branch or worktree is made."""
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / "scripts").mkdir()
    (repo / "scripts" / "clean.sh").write_text("#!/bin/sh\ncat\n")
    (repo / "scripts" / "clean.sh").chmod(0o755)
    (repo / ".gitattributes").write_text("*.py filter=tidy\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tidy filter")
    git(repo, "config", "filter.tidy.clean", "./scripts/clean.sh %f")
    with ScriptedServer(one_step()) as server:
        result = cli(*run_one(server, repo))
        assert not server.requests
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "filter.tidy.clean" in result.stderr and "Traceback" not in result.stderr
    assert git(repo, "branch", "--list", "agent/*").strip() == ""
    assert not list((repo / ".agent" / "worktrees").iterdir())
    assert not list((repo / ".agent" / "runs").iterdir())


def test_in_place_refuses_git_config_included_from_the_working_tree(tmp_path: Path, cli) -> None:
    """An include.path into the checkout lets a file the model writes set hooks or filters."""
    repo = make_repo(tmp_path / "calc", "calc_bug")
    git(repo, "config", "include.path", "../team.gitconfig")  # relative to .git/config: not written yet
    with ScriptedServer(one_step()) as server:
        result = cli(*run_one(server, repo, "--in-place"))
    assert result.exit_code == 2 and "include.path" in result.stderr and "Traceback" not in result.stderr
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert git(repo, "branch", "--list", "agent/*").strip() == ""


@pytest.mark.skipif(shutil.which("git-lfs") is not None, reason="needs a machine without git-lfs")
def test_a_filter_whose_program_is_missing_is_a_configuration_error_that_leaves_nothing(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "media", None)
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (repo / "big.bin").write_bytes(b"\x00" * 64)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "media")
    for key, value in (("process", "git-lfs filter-process"), ("smudge", "git-lfs smudge -- %f"),
                       ("clean", "git-lfs clean -- %f"), ("required", "true")):
        git(repo, "config", f"filter.lfs.{key}", value)
    with ScriptedServer(one_step()) as server:
        result = cli(*run_one(server, repo))
        assert not server.requests
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "git-lfs is not installed" in result.stderr
    assert git(repo, "branch", "--list", "agent/*").strip() == ""
    assert "agent/" not in git(repo, "worktree", "list")
    assert not list((repo / ".agent" / "worktrees").iterdir())
    assert not list((repo / ".agent" / "runs").iterdir())
