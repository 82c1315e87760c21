"""`agent review` keeps the values of secret files out of what it sends and what it prints, and asks
for no key when there is nothing to review. Through the CLI, with the scripted server as critics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.testing import Turn
from conftest import git, make_repo
from test_review_cli import APP, review, scripted, write

ENV_VALUE = "orchid-lantern-7731"  # shaped like no known token: only the exact value gives it away
VAULT_VALUE = "quartz-meadow-0412"


def _pr_leaking_secret_values(tmp_path: Path) -> Path:
    """main: an app and secret_globs = ["*.vault"]; feature adds a .env, a .vault file, and code and
    a description that repeat their values. The checkout is left on main, without those files."""
    repo = make_repo(tmp_path / "repo")
    write(repo, {"src/app.py": APP, ".agent.toml": 'secret_globs = ["*.vault"]\n'})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    write(repo, {".env": f"DB_PASSWORD={ENV_VALUE}\n", "deploy.vault": f"signing: {VAULT_VALUE}\n",
                 "src/settings.py": f'CONN = connect("db.internal", "{ENV_VALUE}")\nSIGNER = "{VAULT_VALUE}"\n'})
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-qm", "feature")
    git(repo, "checkout", "-q", "main")
    return repo


def _quoting(body: dict[str, Any], role: str) -> Turn:
    """A critic that names the values in its finding (as one that saw them would)."""
    finding = {"severity": "high", "message": f"hard-coded credential {ENV_VALUE} and {VAULT_VALUE}",
               "file": "src/settings.py", "line": 1,
               "evidence": f'CONN = connect("db.internal", "{ENV_VALUE}")', "suggestion": f"read {ENV_VALUE} from the environment"}
    return Turn(content=json.dumps({"verdict": "request_changes", "findings": [finding]}))


def test_secret_values_in_the_pull_request_never_reach_the_critics_or_any_output(cli, tmp_path: Path) -> None:
    repo = _pr_leaking_secret_values(tmp_path)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 4, "title": "Connect to the database",
                                                  "head": {"sha": "0" * 40},
                                                  "body": f"uses the password {ENV_VALUE}"}}))
    env = {"GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "pull_request"}
    outputs = []
    with scripted() as server:
        server.set_responder("security", _quoting)
        for fmt in ("json", "sarif", "github", "markdown"):
            result = review(cli, server, repo, "--base", "main", "--head", "feature", "--critics", "security",
                            "--format", fmt, env=env)
            assert result.exit_code == 0, result.stderr
            outputs.append(result.stdout)
            assert ENV_VALUE not in result.stderr and VAULT_VALUE not in result.stderr
        sent = json.dumps([r.body for r in server.requests_for("security")])
    assert "src/settings.py" in sent and "[REDACTED]" in sent
    assert ENV_VALUE not in sent and VAULT_VALUE not in sent
    for text in outputs:
        assert ENV_VALUE not in text and VAULT_VALUE not in text and "[REDACTED]" in text
    data = json.loads(outputs[0])
    assert data["findings"][0]["message"] == "hard-coded credential [REDACTED] and [REDACTED]"
    assert {s["path"] for s in data["skipped_files"]} == {".env", "deploy.vault"}


def test_nothing_to_review_needs_no_api_key(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    result = cli("review", "--repo", str(repo), "--base", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.stderr
    head = git(repo, "rev-parse", "HEAD").strip()[:12]
    assert json.loads(result.stdout)["summary"] == f"nothing to review: {head} changes nothing since {head}."
    assert "API_KEY" not in result.stderr
