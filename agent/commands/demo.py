"""`agent demo`: the whole loop, offline, on a copy of a fixture, against the scripted model."""

from __future__ import annotations

import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from agent.console import make_console

from agent.errors import UserError
from agent.gitrepo import git
from agent.testing import Script, ScriptedServer

DEMO_FIXTURE = "calc_bug"
DEMO_TASK = "Fix the failing median test, and make sure every statistic rejects empty input"


def make_demo_repo(parent: Path) -> Path:
    """A fresh git repository holding a copy of the demo fixture (shipped as package data), with one commit."""
    repo = parent / DEMO_FIXTURE
    with resources.as_file(resources.files("workspace_fixtures") / DEMO_FIXTURE) as fixture:
        if not fixture.is_dir():
            raise UserError(f"the demo fixture is missing from this installation ({fixture})")
        shutil.copytree(fixture, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for args in (("init", "-q", "-b", "main"), ("add", "-A"),
                 ("-c", "user.name=demo", "-c", "user.email=demo@localhost", "commit", "-q", "-m", "calc: initial")):
        git(repo, *args)  # as every git command of the agent: no hook, signing program or inherited GIT_DIR
    return repo


def demo_command(*, keep: bool, json_out: bool) -> int:
    from agent.commands.run import run_command

    console = make_console(stderr=True)
    parent = Path(tempfile.mkdtemp(prefix="agent-demo-"))
    try:
        repo = make_demo_repo(parent)
        where = str(repo) if keep else "a temporary copy of the calc_bug fixture, deleted on exit (--keep keeps it)"
        console.print(f"[bold magenta]agent demo: a SCRIPTED model plays GLM 4.7; no API key, no network.[/]\n"
                      f"repository: {where}\ntask: {DEMO_TASK}\n", soft_wrap=True)
        script = Script.load(Path(str(resources.files("agent.testing") / "scripts" / "demo.json")))
        with ScriptedServer(script) as server:
            flags = {"base_url": server.base_url, "provider": "cerebras", "model": script.model,
                     "test_cmd": f"{sys.executable} -m pytest -q -p no:cacheprovider"}
            code = run_command(DEMO_TASK, repo, flags, no_critics=False, in_place=False, json_out=json_out,
                               yes=True, quiet=False, scripted=True, temporary=not keep)
        if keep:
            console.print(f"\nkept the demo repository: {repo}  (try: agent runs --repo {repo})")
        return code
    finally:
        if not keep:
            shutil.rmtree(parent, ignore_errors=True)
