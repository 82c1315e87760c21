"""`agent runs`, `agent show`, `agent undo`, `agent apply-run`: the runs recorded in a repository."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.table import Table

from agent.console import make_console
from agent.errors import AgentError, UserError
from agent.gitrepo import complaint, git, git_ok, open_repo, run_git
from agent.journal import Journal, read_events, runs_dir
from agent.report import Report, build_report
from agent.session import journal_path
from agent.summary import print_summary, shown_status
from agent.runnames import is_run_id
from agent.workspace import excluded, undo
from tools.paths import DEFAULT_SECRET_GLOBS

# The user's diff settings (external drivers, colour, no prefix) must not change what is printed.
_DIFF_FLAGS = ("--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/")


def _load(repo_root: Path, run_id: str) -> Report:
    path = journal_path(repo_root, run_id)
    if not path.is_file():
        raise UserError(f"no run {run_id!r} in {repo_root} (see: agent runs)")
    try:
        return build_report(path)
    except ValueError as exc:
        raise UserError(f"run {run_id}: the journal is unreadable ({exc})") from None


def runs_command(repo: Path) -> int:
    repo_root = open_repo(repo)
    folder = runs_dir(repo_root)
    ids = sorted((p.name for p in folder.iterdir() if is_run_id(p.name) and (p / "events.jsonl").is_file()),
                 reverse=True) if folder.is_dir() else []
    console = make_console()
    if not ids:
        console.print("no runs yet")
        return 0
    table = Table(box=None)
    # The run id and branch are what users copy into show, resume, undo and git: they never wrap.
    table.add_column("run", no_wrap=True, min_width=max(len(i) for i in ids))
    table.add_column("status", no_wrap=True)
    table.add_column("steps", no_wrap=True)
    table.add_column("branch", no_wrap=True)
    table.add_column("task", ratio=1)
    for run_id in ids:
        try:
            r = build_report(journal_path(repo_root, run_id))
        except ValueError:
            table.add_row(run_id, "unreadable", "", "", "")
            continue
        approved = sum(s.status == "approved" for s in r.steps)
        branch = r.branch if r.workspace_state == "present" else "-"
        table.add_row(run_id, shown_status(r), f"{approved}/{len(r.steps)}", branch, r.task[:60])
    console.print(table)
    return 0


def show_command(run_id: str, repo: Path, *, json_out: bool, diff: bool = False) -> int:
    repo_root = open_repo(repo)
    report = _load(repo_root, run_id)
    if diff:
        sys.stdout.write(run_diff(repo_root, report, _secret_globs(repo_root, run_id)))
        return 0
    console = make_console()
    if json_out:
        print(report.model_dump_json(indent=2))
    else:
        console.print(f"task: {report.task}")
        print_summary(report, console)
    return 0


def run_diff(repo_root: Path, report: Report, secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS) -> str:
    """The unified diff of everything the run committed, from its base commit to its last commit;
    secret files (`secret_globs`) are left out, should a commit hold one."""
    if not report.head_commit or report.head_commit == report.base_commit:
        return ""
    if not git_ok(repo_root, "cat-file", "-e", f"{report.head_commit}^{{commit}}"):
        raise UserError(f"run {report.run_id}: its commits are gone from the repository ({shown_status(report)})")
    return git(repo_root, "diff", *_DIFF_FLAGS, report.base_commit, report.head_commit, "--", ".",
               *excluded(secret_globs))


def _secret_globs(repo_root: Path, run_id: str) -> tuple[str, ...]:
    """The secret patterns the run worked with (built-in and the user's), from its first event."""
    first = next(read_events(journal_path(repo_root, run_id)), {})
    globs = (first.get("config") or {}).get("secret_globs") or ()
    return tuple(dict.fromkeys([*DEFAULT_SECRET_GLOBS, *(g for g in globs if isinstance(g, str))]))


def undo_command(run_id: str, repo: Path) -> int:
    repo_root = open_repo(repo)
    report = _load(repo_root, run_id)
    # A run in place has no worktree of its own: its branch goes, the checkout and its files stay.
    with Journal(journal_path(repo_root, run_id)) as journal:  # owns the run: never undone while it goes on
        removed = undo(repo_root, run_id, report.branch, Path(report.worktree))
        journal.append("run_undone", removed=removed)
    make_console().print(f"undone run {run_id}: " + (", ".join(removed) or "nothing left to remove"))
    return 0


def apply_run_command(run_id: str, repo: Path) -> int:
    """Merge the run's branch into the branch checked out at `repo`: a fast-forward when it can be,
    else a merge commit; refused on a dirty tree, and a conflicting merge is undone."""
    root = open_repo(repo)
    report = _load(root, run_id)
    if report.workspace_state != "present":
        raise UserError(f"run {run_id} is {shown_status(report)}: it has no branch to apply")
    if not report.head_commit or report.head_commit == report.base_commit:
        raise UserError(f"run {run_id} committed nothing: there is nothing to apply")
    current = git(root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    if current == report.branch:
        raise UserError(f"{root} is on the run's branch {report.branch}; switch to the branch to merge it into")
    if current == "HEAD":
        raise UserError(f"{root} has a detached HEAD; switch to the branch to merge {report.branch} into")
    dirty = git(root, "status", "--porcelain", "--untracked-files=no").splitlines()
    if dirty:
        raise UserError(f"{root} has uncommitted changes ({len(dirty)}, e.g. {dirty[0][3:]}); "
                        "commit or stash them first")
    fast = git_ok(root, "merge-base", "--is-ancestor", "HEAD", report.branch)
    args = ("merge", "--quiet", "--ff-only" if fast else "--no-ff", "--no-edit", report.branch)
    proc = run_git(root, args, None)
    if proc.returncode != 0:
        if git_ok(root, "rev-parse", "--verify", "--quiet", "MERGE_HEAD"):
            run_git(root, ("merge", "--abort"), None)  # leave the checkout as it was
        raise AgentError(f"merging {report.branch} into {current} failed, nothing was changed: {complaint(proc)}; "
                         f"merge it yourself with: git merge {report.branch}")
    how = "fast-forwarded" if fast else "merged"
    count = git(root, "rev-list", "--count", f"{report.base_commit}..{report.head_commit}").strip()
    make_console().print(f"{how} {current} to include run {run_id}: {count} commit(s) from {report.branch}")
    return 0
