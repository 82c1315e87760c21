"""The run's git workspace on real throwaway repositories: the user's checkout is never touched."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import git, make_repo

from agent.errors import UserError
from agent.gitrepo import GitError, open_repo
from agent.runnames import new_run_id, slugify
from agent.workspace import GitWorkspace, undo

MEDIAN_BUG = "ordered[mid] + ordered[mid + 1]"
MEDIAN_FIX = "ordered[mid - 1] + ordered[mid]"


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config, and no repository above tmp_path, can change what these tests see."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "calc", "calc_bug")


def snapshot(repo: Path) -> dict[str, object]:
    """Everything of the user's checkout a run must leave alone: file bytes, status, index, branch."""
    files = {
        str(path.relative_to(repo)): path.read_bytes()
        for path in sorted(repo.rglob("*"))
        if path.is_file() and not path.relative_to(repo).parts[0] in {".git", ".agent"}
    }
    return {
        "files": files,
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "staged": git(repo, "diff", "--cached"),
        "index": git(repo, "ls-files", "--stage"),
        "unstaged": git(repo, "diff"),
        "branch": git(repo, "rev-parse", "--abbrev-ref", "HEAD"),
        "head": git(repo, "rev-parse", "HEAD"),
    }


def dirty_the_user_checkout(repo: Path) -> None:
    """An uncommitted edit, an untracked file and a staged change, as a user mid-work has."""
    (repo / "calc" / "stats.py").write_text((repo / "calc" / "stats.py").read_text() + "\n# user's own edit\n")
    (repo / "notes.txt").write_text("untracked user notes\n")
    (repo / "README.md").write_text("# calc\n\nstaged by the user\n")
    git(repo, "add", "README.md")


def test_create_makes_a_branch_and_a_worktree_from_head(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "20261126-073400-a1b2", "Fix the median bug")

    assert ws.branch == "agent/fix-the-median-bug-20261126-073400-a1b2"
    # The folder carries the repository's name, as build files that name targets after it expect.
    assert ws.root == calc_repo / ".agent" / "worktrees" / "20261126-073400-a1b2" / calc_repo.name
    assert ws.base_commit == ws.head() == git(calc_repo, "rev-parse", "HEAD").strip()
    assert git(ws.root, "rev-parse", "--abbrev-ref", "HEAD").strip() == ws.branch
    assert (ws.root / "calc" / "stats.py").read_text() == (calc_repo / "calc" / "stats.py").read_text()
    assert git(calc_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_user_checkout_is_byte_identical_after_create_commit_reset_and_undo(calc_repo: Path):
    dirty_the_user_checkout(calc_repo)
    before = snapshot(calc_repo)

    ws = GitWorkspace.create(calc_repo, "r1", "fix median")
    # The worktree starts from the commit, not from the user's uncommitted work.
    assert "user's own edit" not in (ws.root / "calc" / "stats.py").read_text()
    assert not (ws.root / "notes.txt").exists()
    stats = ws.root / "calc" / "stats.py"
    stats.write_text(stats.read_text().replace(MEDIAN_BUG, MEDIAN_FIX))
    (ws.root / "scratch.txt").write_text("agent scratch\n")
    assert "scratch.txt" in ws.diff()
    first = ws.commit("Fix median", {"Reviewer": "approve"})
    (ws.root / "more.txt").write_text("more\n")
    ws.reset_to(first)
    assert snapshot(calc_repo) == before
    assert git(calc_repo, "rev-parse", ws.branch).strip() == first

    assert undo(calc_repo, ws.run_id, ws.branch, ws.root)
    assert snapshot(calc_repo) == before


def test_agent_dir_is_excluded_once_after_two_runs(calc_repo: Path):
    exclude = calc_repo / ".git" / "info" / "exclude"
    exclude.unlink()

    GitWorkspace.create(calc_repo, "r1", "one")
    GitWorkspace.create(calc_repo, "r2", "two")

    assert exclude.read_text().splitlines().count(".agent/") == 1
    assert git(calc_repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_users_own_exclude_patterns_are_kept(calc_repo: Path):
    exclude = calc_repo / ".git" / "info" / "exclude"
    exclude.write_text("# mine\n*.log")  # no final newline

    GitWorkspace.create(calc_repo, "r1", "one")

    assert exclude.read_text() == "# mine\n*.log\n.agent/\n"


def test_diff_shows_modifications_and_new_untracked_files_but_not_secrets_or_caches(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "fix")
    stats = ws.root / "calc" / "stats.py"
    stats.write_text(stats.read_text().replace(MEDIAN_BUG, MEDIAN_FIX))
    (ws.root / "calc" / "extra.py").write_text("ANSWER = 42\n")
    (ws.root / ".env").write_text("TOKEN=sk-never-shown\n")
    (ws.root / "calc" / "__pycache__").mkdir(exist_ok=True)
    (ws.root / "calc" / "__pycache__" / "junk.pyc").write_bytes(b"\0junk")

    diff = ws.diff()

    assert f"-    return ({MEDIAN_BUG}) / 2" in diff
    assert f"+    return ({MEDIAN_FIX}) / 2" in diff
    assert "diff --git a/calc/extra.py b/calc/extra.py\nnew file mode 100644" in diff
    assert "+ANSWER = 42" in diff
    assert "sk-never-shown" not in diff and "junk" not in diff
    assert ws.changed_files() == ["calc/extra.py", "calc/stats.py"]
    # Computing the diff stages nothing, not even in the run's own index.
    assert git(ws.root, "diff", "--cached") == ""
    assert git(ws.root, "status", "--porcelain") == " M calc/stats.py\n?? .env\n?? calc/extra.py\n"


def test_diff_defaults_to_the_last_step_and_takes_a_base(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "two steps")
    (ws.root / "one.txt").write_text("one\n")
    ws.commit("Step one", {})
    (ws.root / "two.txt").write_text("two\n")

    assert "two.txt" in ws.diff() and "one.txt" not in ws.diff()
    assert ws.changed_files(ws.base_commit) == ["one.txt", "two.txt"]


def test_commit_carries_trailers_and_returns_the_new_head(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "fix")
    (ws.root / "calc" / "extra.py").write_text("X = 1\n")

    sha = ws.commit("Fix the median", {"Reviewer": "approve", "Qa": "approve", "Agent-Run": "r1"})

    assert sha == ws.head() == git(calc_repo, "rev-parse", ws.branch).strip()
    assert git(ws.root, "log", "-1", "--format=%s").strip() == "Fix the median"
    trailers = git(ws.root, "log", "-1", "--format=%(trailers)")
    assert trailers.splitlines()[:3] == ["Reviewer: approve", "Qa: approve", "Agent-Run: r1"]
    assert git(ws.root, "log", "-1", "--format=%(trailers:key=Qa,valueonly)").strip() == "approve"
    assert git(ws.root, "show", "--name-only", "--format=", sha).split() == ["calc/extra.py"]
    assert git(ws.root, "status", "--porcelain") == ""


def test_a_step_without_changes_is_still_one_commit(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "nothing")

    sha = ws.commit("Nothing to change", {"Reviewer": "approve"})

    assert sha != ws.base_commit
    assert git(ws.root, "rev-parse", f"{sha}^").strip() == ws.base_commit


def test_commit_uses_the_configured_identity(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "who")
    ws.commit("Step", {})
    assert git(ws.root, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "Test <test@example.invalid>|Test <test@example.invalid>"
    )


def test_commit_falls_back_to_the_agent_identity(calc_repo: Path):
    git(calc_repo, "config", "--unset", "user.name")
    git(calc_repo, "config", "--unset", "user.email")
    ws = GitWorkspace.create(calc_repo, "r1", "who")
    ws.commit("Step", {})
    assert git(ws.root, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "glm-agent <agent@localhost>|glm-agent <agent@localhost>"
    )


def test_reset_to_restores_the_worktree_only(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "reset")
    (ws.root / "kept.txt").write_text("kept\n")
    good = ws.commit("Good step", {})
    (ws.root / "kept.txt").write_text("half-done edit\n")
    (ws.root / "stray.txt").write_text("stray\n")
    ws.commit("Bad step", {})
    (ws.root / "uncommitted.txt").write_text("x\n")

    ws.reset_to(good)

    assert ws.head() == good
    assert (ws.root / "kept.txt").read_text() == "kept\n"
    assert not (ws.root / "stray.txt").exists() and not (ws.root / "uncommitted.txt").exists()
    assert ws.diff() == ""


def test_in_place_works_on_a_new_branch_in_a_clean_checkout(calc_repo: Path):
    (calc_repo / "calc" / "__pycache__").mkdir(exist_ok=True)  # ignored files do not make a tree dirty
    (calc_repo / "calc" / "__pycache__" / "stats.pyc").write_bytes(b"x")

    ws = GitWorkspace.in_place(calc_repo, "r1", "in place")

    assert ws.root == calc_repo and ws.mode == "in_place"
    assert git(calc_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "agent/in-place-r1"
    (calc_repo / "new.txt").write_text("new\n")
    sha = ws.commit("Step", {"Reviewer": "approve"})
    assert git(calc_repo, "rev-parse", "agent/in-place-r1").strip() == sha
    assert git(calc_repo, "rev-parse", "main").strip() == ws.base_commit


@pytest.mark.parametrize("dirt", ["tracked", "staged"])
def test_in_place_refuses_a_dirty_tree(calc_repo: Path, dirt: str):
    (calc_repo / "new.txt").write_text("new\n")  # untracked: the user's, it never blocks
    if dirt == "tracked":
        (calc_repo / "README.md").write_text("changed\n")
    else:
        (calc_repo / "README.md").write_text("changed\n")
        git(calc_repo, "add", "README.md")
    before = snapshot(calc_repo)

    with pytest.raises(UserError, match="uncommitted changes to tracked files: README.md") as err:
        GitWorkspace.in_place(calc_repo, "r1", "dirty")

    assert "\n" not in str(err.value)
    assert snapshot(calc_repo) == before
    assert "agent/" not in git(calc_repo, "branch", "--list")


def test_undo_removes_the_branch_and_the_worktree(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "undo me")
    (ws.root / "x.txt").write_text("x\n")
    ws.commit("Step", {})

    done = ws.remove()

    assert done == [f"removed worktree {ws.root}", f"deleted branch {ws.branch}"]
    assert not ws.root.exists() and not ws.root.parent.exists()  # nor the run's folder around it
    assert (calc_repo / ".agent" / "worktrees").is_dir()
    assert git(calc_repo, "branch", "--list", "agent/*") == ""
    assert git(calc_repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert undo(calc_repo, ws.run_id, ws.branch, ws.root) == []  # repeating it is harmless


def test_undo_works_when_the_worktree_was_deleted_by_hand(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "gone")
    shutil.rmtree(ws.root)

    assert undo(calc_repo, "r1", ws.branch, ws.root) == [f"deleted branch {ws.branch}"]
    assert git(calc_repo, "branch", "--list", "agent/*") == ""
    assert git(calc_repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_undo_deletes_only_what_belongs_to_a_run(calc_repo: Path, tmp_path: Path):
    with pytest.raises(UserError, match="only agent/"):
        undo(calc_repo, "r1", "main")
    with pytest.raises(UserError, match="refusing to remove"):
        undo(calc_repo, "r1", "agent/x-r1", tmp_path)
    ws = GitWorkspace.in_place(calc_repo, "r2", "here")
    with pytest.raises(UserError, match="switch to another branch"):
        ws.remove()
    assert git(calc_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == ws.branch


def test_attach_resumes_a_run_and_restores_a_deleted_worktree(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "resume")
    (ws.root / "a.txt").write_text("a\n")
    sha = ws.commit("Step one", {})
    shutil.rmtree(ws.root)

    again = GitWorkspace.attach(calc_repo, "r1", ws.branch, ws.root, ws.base_commit)

    assert again.head() == sha and again.mode == "worktree"
    assert (again.root / "a.txt").read_text() == "a\n"
    undo(calc_repo, "r1", ws.branch, ws.root)
    with pytest.raises(UserError, match="no longer exists"):
        GitWorkspace.attach(calc_repo, "r1", ws.branch, ws.root, ws.base_commit)


def test_attach_to_an_in_place_run_needs_its_branch_checked_out(calc_repo: Path):
    ws = GitWorkspace.in_place(calc_repo, "r1", "here")
    again = GitWorkspace.attach(calc_repo, "r1", ws.branch, calc_repo, ws.base_commit)
    assert again.mode == "in_place" and again.head() == ws.base_commit
    git(calc_repo, "checkout", "-q", "main")
    with pytest.raises(UserError, match="not the run's branch"):
        GitWorkspace.attach(calc_repo, "r1", ws.branch, calc_repo, ws.base_commit)


def test_a_failing_git_command_is_one_line_naming_it(calc_repo: Path):
    ws = GitWorkspace.create(calc_repo, "r1", "oops")
    with pytest.raises(GitError, match=r"^git reset --quiet --hard failed in .*: fatal: ") as err:
        ws.reset_to("no-such-commit")
    assert "\n" not in str(err.value)


def test_an_existing_branch_is_not_reused(calc_repo: Path):
    GitWorkspace.create(calc_repo, "r1", "same")
    with pytest.raises(UserError, match="already exists"):
        GitWorkspace.create(calc_repo, "r1", "same")


def test_workspaces_created_at_once_in_one_repository_are_all_whole(calc_repo: Path):
    # git itself does not serialise `worktree add`: without the workspace's lock, one add reads
    # another's half-written admin folder and fails.
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda i: GitWorkspace.create(calc_repo, f"r{i}", "same task"), range(24)))
    listed = git(calc_repo, "worktree", "list", "--porcelain")
    for ws in made:
        assert f"worktree {ws.root}" in listed
        assert (ws.root / "calc" / "stats.py").is_file()
        assert git(ws.root, "rev-parse", "--abbrev-ref", "HEAD").strip() == ws.branch
        assert git(ws.root, "status", "--porcelain") == ""
    assert len({ws.branch for ws in made}) == 24


def test_open_repo_finds_the_top_level(calc_repo: Path):
    assert open_repo(calc_repo / "calc") == calc_repo


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text("a file\n"), "not a directory"),
        (lambda p: p.mkdir(), "not a git repository"),
        (lambda p: (p.mkdir(), git(p, "init", "-q")), "no commits yet"),
        (lambda p: (p.mkdir(), git(p, "init", "-q", "--bare")), "not inside a working tree"),
    ],
    ids=["file", "plain-dir", "empty-repo", "bare-repo"],
)
def test_open_repo_refuses_what_it_cannot_use(tmp_path: Path, make, message: str):
    target = tmp_path / "target"
    make(target)
    with pytest.raises(UserError, match=message) as err:
        open_repo(target)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match=message):
        GitWorkspace.create(target, "r1", "task")


def test_an_empty_first_commit_is_enough(tmp_repo: Path):
    ws = GitWorkspace.create(tmp_repo, "r1", "first file")
    assert ws.diff() == "" and ws.changed_files() == []
    (ws.root / "hello.py").write_text("print('hi')\n")
    assert ws.changed_files() == ["hello.py"]
    ws.commit("Add hello", {})
    assert git(ws.root, "ls-files").split() == ["hello.py"]


@pytest.mark.parametrize(
    "task, slug",
    [
        ("Fix the median bug!", "fix-the-median-bug"),
        ("  Ünïcödé  café — résumé ", "unicode-cafe-resume"),
        ("日本語", "task"),
        ("", "task"),
        ("Add a complete(id) function to the todo list and a `done` command", "add-a-complete-id-function-to-the-todo"),
        ("x" * 60, "x" * 40),
    ],
)
def test_slugify(task: str, slug: str):
    assert slugify(task) == slug
    assert len(slugify(task)) <= 40


def test_run_ids_are_short_and_sort_by_time():
    early = new_run_id(datetime(2026, 11, 26, 7, 34, 0, tzinfo=timezone.utc))
    late = new_run_id(datetime(2026, 11, 26, 7, 34, 1, tzinfo=timezone.utc))
    assert early.startswith("20261126-073400-") and len(early) == 20
    assert early < late
