"""Which repositories get browser QA, and a bad app setting refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_repo
from tools.webapp import find_app


def test_only_a_configured_command_or_a_procfile_web_process_makes_a_web_app(tmp_path: Path):
    assert find_app(tmp_path, None, None) is None
    (tmp_path / "package.json").write_text('{"scripts": {"start": "node server.js"}}')
    assert find_app(tmp_path, None, None) is None  # not guessed: no Procfile, nothing configured
    (tmp_path / "Procfile").write_text("worker: python jobs.py\nweb: gunicorn app:app --bind 127.0.0.1:$PORT\n")
    found = find_app(tmp_path, None, None)
    assert found is not None and found.cmd == "gunicorn app:app --bind 127.0.0.1:$PORT" and found.port == 8000
    configured = find_app(tmp_path, "npm start", "http://localhost:3000/app")
    assert configured is not None and (configured.cmd, configured.port, configured.reason) == (
        "npm start", 3000, "configured: app_cmd")


@pytest.mark.parametrize("where", ["flag", "file"])
def test_an_app_url_off_the_loopback_is_refused_in_one_line(tmp_path: Path, cli, where: str):
    repo = make_repo(tmp_path / "notes", "web_notes")
    extra = ["--app-url", "http://example.com/"] if where == "flag" else []
    if where == "file":
        (repo / ".agent.toml").write_text('app_url = "http://10.0.0.5:8000/"\n')
    result = cli("run", "add a feature", "--repo", str(repo), "--base-url", "http://127.0.0.1:9/v1", "--yes", *extra)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and ("app_url" in lines[0] or "--app-url" in lines[0]) and "127.0.0.1 or localhost" in lines[0]
    assert not (repo / ".agent" / "runs").exists()
