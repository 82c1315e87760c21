"""Shared fixtures: real git repositories from workspace_fixtures/, and the CLI run as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "workspace_fixtures"


@pytest.fixture(autouse=True)
def _no_real_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real model API: drop every key and endpoint from the environment."""
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name in {"AGENT_BASE_URL", "AGENT_MODEL", "AGENT_PROVIDER"}:
            monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its stdout."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, fixture: str | None = None) -> Path:
    """A real git repository at `path` with one commit, seeded from workspace_fixtures/<fixture>."""
    if fixture is not None:
        shutil.copytree(FIXTURES / fixture, path, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    else:
        path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "user.name", "Test")
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    return path


@pytest.fixture
def tmp_repo(tmp_path: Path) -> Path:
    """An empty git repository with one (empty) commit."""
    return make_repo(tmp_path / "repo")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 120) -> CliResult:
    """Run `agent ARGS` in a subprocess, exactly as a user would."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "agent", *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli
