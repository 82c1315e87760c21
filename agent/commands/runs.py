"""`agent runs`, `agent show`, `agent undo`: the runs recorded in a repository."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from agent.errors import UserError
from agent.journal import Journal, runs_dir
from agent.report import Report, build_report
from agent.session import journal_path
from agent.summary import print_summary
from agent.gitrepo import open_repo
from agent.workspace import is_run_id, undo


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
    console = Console(highlight=False)
    if not ids:
        console.print("no runs yet")
        return 0
    table = Table(box=None)
    # The run id is what users copy into show, resume and undo: it never wraps or shortens.
    table.add_column("run", no_wrap=True, min_width=max(len(i) for i in ids))
    table.add_column("status", no_wrap=True)
    table.add_column("steps", no_wrap=True)
    table.add_column("branch", overflow="fold")
    table.add_column("task", ratio=1)
    for run_id in ids:
        try:
            r = build_report(journal_path(repo_root, run_id))
        except ValueError:
            table.add_row(run_id, "unreadable", "", "", "")
            continue
        approved = sum(s.status == "approved" for s in r.steps)
        table.add_row(run_id, r.status, f"{approved}/{len(r.steps)}", r.branch, r.task[:60])
    console.print(table)
    return 0


def show_command(run_id: str, repo: Path, *, json_out: bool) -> int:
    report = _load(open_repo(repo), run_id)
    console = Console(highlight=False)
    if json_out:
        print(report.model_dump_json(indent=2))
    else:
        console.print(f"task: {report.task}")
        print_summary(report, console)
    return 0


def undo_command(run_id: str, repo: Path) -> int:
    repo_root = open_repo(repo)
    report = _load(repo_root, run_id)
    if report.worktree == str(repo_root):
        raise UserError(f"run {run_id} worked in place on {report.branch}; switch branches and delete it with git")
    with Journal(journal_path(repo_root, run_id)) as journal:  # owns the run: never undone while it goes on
        removed = undo(repo_root, run_id, report.branch, Path(report.worktree))
        journal.append("run_undone", removed=removed)
    Console(highlight=False).print(f"undone run {run_id}: " + (", ".join(removed) or "nothing left to remove"))
    return 0
