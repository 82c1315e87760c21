"""Rough edges a user meets, each through the CLI: an error said once, a busy batch target, and git
run the agent's one safe way by `agent demo` and `agent doctor`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.batch.limiter import RateLimiter
from agent.batch.results import ResultsFile
from agent.batch.runner import BatchRun, run_all
from agent.batch.spec import load_targets
from agent.testing import ScriptedServer, Turn
from agent.testing.script import ErrorSpec
from conftest import make_repo
from run_helpers import demo_script, run_args
from test_batch_support import executor, make_repos, read_results, scripted_server, write_spec


def test_a_run_error_is_said_once(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.turns.pop("planner")
    script.defaults["planner"] = Turn(error=ErrorSpec(status=401, message="Wrong API key", type="invalid_request_error"))
    with ScriptedServer(script) as server:
        result = cli(*[a for a in run_args(server, repo) if a != "--json"])
    assert result.exit_code == 2, result.stderr
    said = result.stdout + result.stderr
    assert said.count("refused the credentials (HTTP 401)") == 1, said
    assert result.stderr.strip().splitlines()[-1].startswith("agent: ")
    assert "run " in result.stdout and ": error" in result.stdout  # the summary still says how the run ended


def _interrupted_target(tmp_path: Path, server: ScriptedServer) -> tuple[Path, Path, str]:
    """A one-target batch whose run was interrupted in its step; the spec, results file and run id."""
    make_repos(tmp_path)
    results = tmp_path / "r.jsonl"
    spec = write_spec(tmp_path / "batch.yaml", server, "  - repo: calc\n    vars: {path: calc/stats.py}\n",
                      no_critics=True)
    batch_spec, targets = load_targets(spec)
    batch = BatchRun(batch_spec.flags(), RateLimiter(None, None), no_critics=True, batch_id=str(results.resolve()))

    def stop_midway(body, role):
        batch.cancel.set()
        return executor(body, role)

    server.set_responder("executor", stop_midway)
    run_all(targets, batch, 1, on_start=lambda target: None, on_finish=ResultsFile(results).append)
    server.set_responder("executor", executor)
    (stopped,) = read_results(results)
    return spec, results, stopped["run_id"]


def test_a_batch_target_whose_run_another_process_holds_is_busy_and_retried_by_resume(tmp_path):
    with scripted_server() as server:
        spec, results, run_id = _interrupted_target(tmp_path, server)
        folder = tmp_path / "calc" / ".agent" / "runs" / run_id
        hold = ("import sys, time\nfrom pathlib import Path\nfrom agent.runlock import RunLock\n"
                "RunLock.acquire(Path(sys.argv[1]))\nprint('held', flush=True)\ntime.sleep(600)\n")
        args = [sys.executable, "-m", "agent", "batch", str(spec), "--resume", "--results", str(results)]
        with subprocess.Popen([sys.executable, "-c", hold, str(folder)], stdout=subprocess.PIPE, text=True) as holder:
            try:
                assert holder.stdout.readline().strip() == "held"
                busy = subprocess.run(args, capture_output=True, text=True, timeout=120)
            finally:
                holder.kill()
        assert busy.returncode == 1, busy.stderr + busy.stdout
        line = read_results(results)[-1]
        assert line["status"] == "busy" and line["run_id"] == run_id
        assert line["error"] == (f"run {run_id} is in use by another agent process (pid {holder.pid}); wait for it "
                                 "to end (or stop it), then try again (agent batch --resume retries this target)")
        assert "1 target(s) busy" in busy.stdout and "retry them with --resume" in busy.stdout

        again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr + again.stdout
    final = read_results(results)[-1]
    assert final["status"] == "succeeded" and final["run_id"] == run_id


def _home_with_a_global_hook(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A $HOME whose git config runs a pre-commit hook and signs commits with a program that fails."""
    home, marker = tmp_path / "home", tmp_path / "hook-ran"
    hooks = home / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "pre-commit").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (hooks / "pre-commit").chmod(0o755)
    (home / ".gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n[commit]\n\tgpgSign = true\n"
                                     "[gpg]\n\tprogram = false\n")
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}, marker


def test_the_demo_makes_its_repository_without_the_users_git_hooks_or_signing(tmp_path, cli):
    env, marker = _home_with_a_global_hook(tmp_path)
    result = cli("demo", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    assert not marker.exists()


def test_doctor_asks_git_about_the_repository_it_was_given_not_an_inherited_git_dir(tmp_path, cli):
    other = make_repo(tmp_path / "other")
    plain = tmp_path / "plain"
    plain.mkdir()
    result = cli("doctor", "--repo", str(plain), env={"GIT_DIR": str(other / ".git")})
    row = next(line for line in result.stdout.splitlines() if " repository " in f" {line} ")
    assert "warn" in row and f"{plain} is not a git repository" in row
