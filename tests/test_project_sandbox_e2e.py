"""Runs through the CLI on real repositories: the tests see the project's own environment (its
virtualenv, its setup) and nothing of the user's secrets (environment, checkout, secret files)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from conftest import git, make_repo, run_cli
from run_helpers import CRITICS, verdict
from tools.sandbox import detect_sandbox

pytestmark = pytest.mark.skipif(not detect_sandbox().available, reason=f"bubblewrap unavailable: {detect_sandbox().detail}")
SALT = "plumtree-harbor-velvet"  # matches no redaction pattern: only its exact value can hide it


def call(name: str, **args: object) -> Turn:
    return Turn(tool_calls=[ToolCallSpec(name=name, arguments=args)])


def run_with_calls(repo: Path, test_cmd: str, *calls: Turn, env: dict[str, str] | None = None) -> tuple[dict, str, str]:
    """`agent run` whose executor makes `calls` then finishes; the report, every request body, the journal."""
    plan = {"steps": [{"title": "Check", "description": "Run the checks.", "acceptance": "Done."}]}
    script = Script(turns={"planner": [Turn(content=json.dumps(plan))],
                           "executor": [*calls, call("finish_step", summary="checked")]},
                    defaults={name: verdict() for name in CRITICS})
    with ScriptedServer(script) as server:
        result = run_cli("run", "check the project", "--repo", str(repo), "--base-url", server.base_url,
                         "--test-cmd", test_cmd, "--json", "--yes", env=env)
        sent = json.dumps([r.body for r in server.requests])
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    journal = (repo / ".agent" / "runs" / report["run_id"] / "events.jsonl").read_text()
    return report, sent + result.stdout + result.stderr, journal


def tool_results(journal: str, name: str = "run_tests") -> list[str]:
    events = [json.loads(line) for line in journal.splitlines()]
    return [e["result"] for e in events if e["type"] == "tool_call" and e["name"] == name]


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A folder outside /tmp and $HOME, where a user's repository may well live (/srv, /work)."""
    folder = Path(tempfile.mkdtemp(prefix="agent-test-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_environment_secrets_are_scrubbed_and_an_allowed_variable_reaches_the_tests(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".agent.toml").write_text('sandbox_env_allow = ["DB_PASS"]\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "config")
    leaked = {"MYSQL_PWD": "plainmysqlword", "CI_JOB_JWT": "jwt-plain-value-abc", "SENTRY_DSN":
              "https://publickeyvalue@o1.ingest.sentry.io/1", "DATABASE_URL": "postgres://app:dbpasswordvalue@db/app",
              "DOCKER_AUTH_CONFIG": '{"auths":{"r":{"auth":"dockerauthvalue"}}}', "SESSION_COOKIE": "cookievalue",
              "UPSTREAM": "https://deploy:upstreampassword@git.example/x.git"}
    env = {**leaked, "DB_PASS": "allowed-db-pass-value", "HARMLESS_SETTING": "visible-setting"}
    report, sent, journal = run_with_calls(repo, "env | sort", call("run_tests"), env=env)
    output = tool_results(journal)[0]
    assert "DB_PASS=allowed-db-pass-value" in output and "HARMLESS_SETTING=visible-setting" in output
    for name, value in leaked.items():
        assert f"{name}=" not in output
        assert value not in sent and value not in journal


def test_the_agents_own_key_cannot_be_allowed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".agent.toml").write_text('sandbox_env_allow = ["CEREBRAS_API_KEY"]\n')
    result = run_cli("run", "x", "--repo", str(repo), "--base-url", "http://127.0.0.1:9/v1", "--yes")
    assert result.exit_code == 2
    assert "sandbox_env_allow" in result.stderr and "the agent's own API key never reaches the tests" in result.stderr
    assert "Traceback" not in result.stderr


PROBE = """import pathlib, subprocess
common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                        capture_output=True, text=True, check=True).stdout.strip()
secret = pathlib.Path(common).parent / ".env.local"
try:
    print("CHECKOUT-VISIBLE", secret.read_text())
except OSError as exc:
    print("CHECKOUT-HIDDEN", type(exc).__name__)
"""


def test_checkout_is_hidden_and_its_secret_values_are_redacted_everywhere(outside_tmp: Path) -> None:
    repo = make_repo(outside_tmp / "project")
    (repo / "probe.py").write_text(PROBE)
    (repo / "notes.md").write_text(f"The webhook salt is {SALT} (do not share).\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "probe and notes")
    (repo / ".env.local").write_text(f"WEBHOOK_SALT={SALT}\nDEBUG=true\n")  # untracked, next to the code
    report, sent, journal = run_with_calls(repo, f"{sys.executable} probe.py", call("read_file", path="notes.md"),
                                           call("run_tests"))
    assert "CHECKOUT-HIDDEN" in tool_results(journal)[0]
    assert "The webhook salt is [REDACTED]" in tool_results(journal, "read_file")[0]
    assert SALT not in sent and SALT not in journal
    assert SALT not in git(repo, "log", "-p", f"{report['base_commit']}..{report['branch']}")  # the agent's commits


def _wheel(folder: Path, name: str, module: str) -> Path:
    """A minimal pure-Python wheel, so a test can install a dependency with no network and no build backend."""
    dist = f"{name}-1.0.dist-info"
    files = {f"{name}.py": module, f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for path, text in files.items()]
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def test_the_projects_own_virtualenv_runs_its_tests(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    (repo / "test_uses_dep.py").write_text("import unittest\nimport tinydep\n\n\nclass T(unittest.TestCase):\n"
                                           "    def test_dep(self):\n        self.assertEqual(tinydep.VALUE, 42)\n")
    (repo / ".gitignore").write_text(".venv/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a test that needs tinydep")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
    wheel = _wheel(tmp_path, "tinydep", "VALUE = 42\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(repo / ".venv" / "bin" / "python"), "install", "-q",
                    "--no-index", "--no-deps", str(wheel)], check=True, capture_output=True)
    with pytest.raises(ModuleNotFoundError):
        __import__("tinydep")  # the agent's own interpreter lacks it
    report, _, journal = run_with_calls(repo, "python -m unittest -v", call("run_tests"))
    assert "test_dep (test_uses_dep.T.test_dep) ... ok" in tool_results(journal)[0]
    assert report["tests"]["exit_code"] == 0


def _events(journal: str, kind: str) -> list[dict]:
    return [e for e in map(json.loads, journal.splitlines()) if e["type"] == kind]


def test_setup_cmd_runs_once_per_worktree_without_secrets(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    setup = ("mkdir -p node_modules/dep && echo installed-by-setup > node_modules/dep/v.txt && "
             "echo \"token=${FAKE_SERVICE_TOKEN:-none} allowed=${DB_PASS:-none}\" > node_modules/dep/env.txt && "
             "ls /sys/class/net > node_modules/dep/net.txt")
    (repo / ".agent.toml").write_text(f"setup_cmd = {json.dumps(setup)}\nsandbox_env_allow = [\"DB_PASS\"]\n")
    (repo / ".gitignore").write_text("node_modules/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "setup")
    env = {"FAKE_SERVICE_TOKEN": "tok-live-998877665544", "DB_PASS": "tests-only-pass"}
    report, _, journal = run_with_calls(repo, "cat node_modules/dep/v.txt node_modules/dep/env.txt",
                                        call("run_tests"), call("run_tests"), env=env)
    results = tool_results(journal)
    assert all("installed-by-setup" in r and "token=none allowed=none" in r for r in results), results
    setups = _events(journal, "setup")
    assert len(setups) == 1 and setups[0]["ok"] is True and setups[0]["command"] == setup
    net = (Path(report["worktree"]) / "node_modules" / "dep" / "net.txt").read_text().split()
    assert net != ["lo"] or os.listdir("/sys/class/net") == ["lo"]  # the setup has the host's network


def test_a_failed_setup_is_a_setup_failure_and_no_test_runs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    (repo / ".agent.toml").write_text('setup_cmd = "echo registry unreachable; exit 3"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "setup")
    report, sent, journal = run_with_calls(repo, "touch tests-ran", call("run_tests"))
    result = tool_results(journal)[0]
    assert result.startswith("SETUP FAILED, no test ran: setup_cmd `echo registry unreachable; exit 3` exit code 3")
    assert "not of its tests" in result and "registry unreachable" in result
    assert _events(journal, "setup")[0]["ok"] is False
    assert not (Path(report["worktree"]) / "tests-ran").exists()
    assert report["tests"]["exit_code"] is None  # no test result: the run cannot claim its tests passed


def test_a_toolchain_missing_inside_the_sandbox_is_named_in_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    _, sent, journal = run_with_calls(repo, "cargo test", call("run_tests"), env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"})
    if shutil.which("cargo", path=env["PATH"]):
        pytest.skip("cargo is installed system-wide here")
    assert "cargo: not found inside the sandbox; set up rustup or add its path to sandbox_mounts" in tool_results(journal)[0]
