"""No "succeeded" without a test: a run in which no test ran ends `unverified` (exit 1), unless the
user accepts a repository without tests (--allow-no-tests / allow_no_tests)."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from conftest import git, make_repo
from run_helpers import CRITICS, verdict

STEP = {"title": "Add a greeting", "description": "Create hello.txt saying hello.", "acceptance": "hello.txt exists."}


def _script() -> Script:
    write = Turn(tool_calls=[ToolCallSpec(name="write_file", arguments={"path": "hello.txt", "content": "hello\n"})])
    finish = Turn(tool_calls=[ToolCallSpec(name="finish_step", arguments={"summary": "added hello.txt"})])
    return Script(turns={"planner": [Turn(content=json.dumps({"steps": [STEP]}))], "executor": [write, finish]},
                  defaults={critic: verdict() for critic in CRITICS})


def _run(cli, repo: Path, *extra: str):
    with ScriptedServer(_script()) as server:
        result = cli("run", "add a greeting", "--repo", str(repo), "--base-url", server.base_url, "--yes", *extra)
        qa = server.requests_for("qa")[0].body["messages"][-1]["content"]
    return result, qa


def _no_tests_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "notes")
    (repo / "README.md").write_text("# Notes\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "readme")
    return repo


def test_a_repository_with_no_tests_ends_unverified(tmp_path: Path, cli) -> None:
    repo = _no_tests_repo(tmp_path)
    result, qa = _run(cli, repo, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["status"] == "unverified"
    assert report["tests"]["ran"] is False and "no test command" in report["tests"]["no_tests"]
    assert report["steps"][0]["status"] == "approved"  # the work is kept on its branch, only not verified
    assert qa.count("NO TEST RAN") == 1  # the critics are told, not left to read silence as a pass
    assert "Set test_cmd in .agent.toml or pass --test-cmd" in qa


def test_the_terminal_says_what_was_detected_and_why_the_run_is_unverified(tmp_path: Path, cli) -> None:
    repo = _no_tests_repo(tmp_path)
    result, _ = _run(cli, repo)
    out = result.stdout + result.stderr
    assert "tests: none found (no test command configured or detected)" in out
    assert "unverified" in out and "tests: no test ran: no test command was configured or detected" in out
    assert "--allow-no-tests" in out


def test_allow_no_tests_accepts_a_repository_without_tests(tmp_path: Path, cli) -> None:
    repo = _no_tests_repo(tmp_path)
    result, _ = _run(cli, repo, "--json", "--allow-no-tests")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    (repo / ".agent.toml").write_text("allow_no_tests = true\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "config")
    result, _ = _run(cli, repo, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "succeeded"


def test_zero_tests_collected_is_no_test_run(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "empty_suite")
    (repo / "pytest.ini").write_text("[pytest]\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_nothing.py").write_text("# tests to come\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "empty suite")
    result, qa = _run(cli, repo, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["status"] == "unverified"
    assert report["tests"]["no_tests"] == "pytest ran no test (zero tests collected)"
    assert report["tests"]["passed"] == 0 and report["tests"]["failed"] == 0  # known zeros, read from pytest
    assert "NO TEST RAN" in qa


def test_a_runner_that_cannot_start_is_not_accepted_by_allow_no_tests(tmp_path: Path, cli) -> None:
    repo = _no_tests_repo(tmp_path)
    result, _ = _run(cli, repo, "--json", "--allow-no-tests", "--test-cmd", "no-such-test-runner --all")
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["status"] == "unverified"
    assert report["tests"]["no_tests"].startswith("the test command could not start (exit 127")


def test_a_batch_target_with_no_tests_is_unverified_in_results_and_report(tmp_path: Path, cli) -> None:
    repo = _no_tests_repo(tmp_path)
    with ScriptedServer(_script()) as server:
        spec = tmp_path / "batch.yaml"
        spec.write_text(f'task: "add a greeting"\nbase_url: {server.base_url}\ntargets:\n  - repo: {repo}\n')
        result = cli("batch", str(spec), "--results", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 1, result.stderr + result.stdout
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert line["status"] == "unverified" and line["tests"]["ran"] is False
    assert line["error"] == "no test ran: no test command was configured or detected"
    assert "| unverified | no test ran |" in (tmp_path / "out.md").read_text()
