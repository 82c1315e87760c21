"""`agent batch` end to end: real fixture repositories, the scripted model over HTTP, the real CLI."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from rich.console import Console

from agent.batch.limiter import RateLimiter
from agent.batch.results import ResultsFile
from agent.batch.runner import BatchRun, run_all
from agent.runnames import is_run_id
from agent.batch.spec import load_targets
from agent.commands.batch import batch_command
from agent.testing import ErrorSpec, ScriptedServer, Turn
from conftest import git
from test_batch_support import (
    SEVEN_IDS, SEVEN_TARGETS, VirtualClock, executor, make_repos, most_in_window, planner, planner_count, read_results,
    scripted_server, write_spec,
)


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


def _batch(spec: Path, results: Path, *, jobs: int = 3, resume: bool = False,
           limiter: RateLimiter | None = None) -> int:
    """`agent batch` in this process, its terminal output discarded."""
    return batch_command(spec, jobs=jobs, resume=resume, dry_run=False, results=results, predictions=None,
                         console=_quiet(), limiter=limiter)


def _lose_lines(results: Path, targets: list[str]) -> None:
    """What a kill leaves when these targets' runs finished but their lines never reached the file."""
    results.write_text("".join(line + "\n" for line in results.read_text().splitlines()
                               if json.loads(line)["target"] not in targets))


def test_every_target_gets_its_own_branch_and_result_line(tmp_path, cli):
    repos = make_repos(tmp_path)
    with scripted_server() as server:
        spec = write_spec(tmp_path / "batch.yaml", server, SEVEN_TARGETS)
        result = cli("batch", str(spec), "--jobs", "4", "--results", str(tmp_path / "out.jsonl"),
                     "--predictions", str(tmp_path / "preds.jsonl"))
        planners = [r.body for r in server.requests_for("planner")]
    assert result.exit_code == 0, result.stderr + result.stdout
    lines = read_results(tmp_path / "out.jsonl")
    assert sorted(line["target"] for line in lines) == SEVEN_IDS
    assert {line["status"] for line in lines} == {"succeeded"}
    assert len({line["branch"] for line in lines}) == 7
    for line in lines:
        assert set(line) >= {"target", "repo", "vars", "status", "branch", "commits", "patch", "tests", "usage",
                             "error", "duration_s"}
        repo = Path(line["repo"])
        assert len(line["commits"]) == 1 and line["error"] is None
        assert git(repo, "rev-parse", line["branch"]).strip() == line["commits"][-1]
        assert f"+plain note {line['vars']['path']}" in line["patch"] and "b/NOTES.md" in line["patch"]
        # planner, executor twice, three critics: a step that writes NOTES.md alone is docs only,
        # which the performance critic skips
        assert line["tests"]["exit_code"] == 0 and line["usage"]["total"]["requests"] == 6
    for repo in repos.values():  # the user's checkouts are untouched
        assert git(repo, "status", "--porcelain") == "" and git(repo, "branch", "--show-current").strip() == "main"
    assert len(planners) == 7 and any("about calc/stats.py" in json.dumps(b) for b in planners)
    predictions = read_results(tmp_path / "preds.jsonl")
    assert [set(p) for p in predictions] == [{"instance_id", "model_name_or_path", "model_patch"}] * 7
    assert sorted(p["instance_id"] for p in predictions) == SEVEN_IDS
    assert {p["model_name_or_path"] for p in predictions} == {"zai-glm-4.7"}
    report = (tmp_path / "out.md").read_text()
    assert all(f"| {target} | succeeded |" in report for target in SEVEN_IDS)
    assert "batch summary" in result.stdout and "7 succeeded" in result.stdout


def test_a_blocked_target_leaves_the_others_done(tmp_path):
    make_repos(tmp_path)
    targets = SEVEN_TARGETS.replace("vars: {path: users/store.py}", "vars: {path: users/store.py, kind: reject-me}")
    with scripted_server() as server:
        spec = write_spec(tmp_path / "batch.yaml", server, targets, max_revisions=1)
        code = _batch(spec, tmp_path / "r.jsonl")
    assert code == 1
    by_id = {line["target"]: line for line in read_results(tmp_path / "r.jsonl")}
    assert by_id.pop("users-store")["status"] == "blocked"
    assert {line["status"] for line in by_id.values()} == {"succeeded"} and len(by_id) == 6
    assert "| users-store | blocked |" in (tmp_path / "r.md").read_text()


def test_a_killed_batch_resumes_without_redoing_finished_targets(tmp_path):
    repos = make_repos(tmp_path)
    results = tmp_path / "r.jsonl"
    with scripted_server(delay_s=0.4) as server:
        spec = write_spec(tmp_path / "batch.yaml", server, SEVEN_TARGETS, no_critics=True)
        args = [sys.executable, "-m", "agent", "batch", str(spec), "--jobs", "2", "--results", str(results)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (results.exists() and results.read_text().count("\n") >= 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        finished = {line["target"] for line in read_results(results)}
        assert 1 <= len(finished) < 7
        killed = _runs(repos)  # the finished targets' runs, and those the kill cut short
        assert len(killed) > len(finished)
        before = planner_count(server)
        resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr + resumed.stdout
        planned = planner_count(server) - before
        assert planned <= 7 - len(finished)  # a killed run that had its plan is not planned again
        again = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and planner_count(server) - before == planned  # no model call
    lines = read_results(results)
    assert sorted(line["target"] for line in lines) == SEVEN_IDS  # each target exactly once
    assert {line["status"] for line in lines} == {"succeeded"}
    runs = _runs(repos)
    # The killed runs were continued from their journals: one run per target, nothing started over
    # on a new branch, no worktree left behind.
    assert len(runs) == 7 and killed <= runs
    assert {line["run_id"] for line in lines} == {run.name for run in runs}
    assert "7 target(s) already in the results file" in again.stdout


@dataclass
class Finished:
    """Seven targets over three repositories, run to their end with the critics off."""

    repos: dict[str, Path]
    results: Path
    server: ScriptedServer
    spec: Path


@pytest.fixture
def finished(tmp_path: Path) -> Iterator[Finished]:
    repos = make_repos(tmp_path)
    results = tmp_path / "r.jsonl"
    with scripted_server() as server:
        spec = write_spec(tmp_path / "batch.yaml", server, SEVEN_TARGETS, no_critics=True)
        assert _batch(spec, results) == 0
        yield Finished(repos, results, server, spec)


def test_a_finished_run_whose_result_line_was_lost_is_recorded_not_redone(finished):
    complete = {line["target"]: line for line in read_results(finished.results)}
    lost = sorted(complete)[:3]
    _lose_lines(finished.results, lost)
    before = len(finished.server.requests)
    assert _batch(finished.spec, finished.results, resume=True) == 0
    assert len(finished.server.requests) == before  # recorded from their journals: no model call
    recovered = {line["target"]: line for line in read_results(finished.results)}
    assert sorted(recovered) == SEVEN_IDS and len(_runs(finished.repos)) == 7
    for target in lost:
        assert {k: recovered[target][k] for k in ("status", "run_id", "branch", "commits", "patch", "tests", "model")} \
            == {k: complete[target][k] for k in ("status", "run_id", "branch", "commits", "patch", "tests", "model")}


def test_resume_after_the_spec_changed_a_task_starts_that_target_afresh(finished):
    old = {line["target"]: line["run_id"] for line in read_results(finished.results)}
    lost = sorted(old)[:2]
    _lose_lines(finished.results, lost)
    spec = finished.spec
    spec.write_text(spec.read_text().replace("{kind: plain}", "{kind: fancy}"))  # then the task is edited
    plans = planner_count(finished.server)
    assert _batch(finished.spec, finished.results, resume=True) == 0
    assert planner_count(finished.server) == plans + 2  # the old runs did another task: not taken as these targets'
    new = {line["target"]: line for line in read_results(finished.results)}
    for target in lost:
        assert new[target]["run_id"] != old[target] and new[target]["status"] == "succeeded"
        started = json.loads((Path(new[target]["repo"]) / ".agent" / "runs" / new[target]["run_id"] / "events.jsonl")
                             .read_text().splitlines()[0])
        assert "fancy note" in started["task"]
    assert len(_runs(finished.repos)) == 9


def test_an_interrupted_run_for_an_edited_task_is_left_and_the_target_starts_afresh(tmp_path):
    make_repos(tmp_path)
    results = tmp_path / "r.jsonl"
    with scripted_server() as server:
        spec = write_spec(tmp_path / "batch.yaml", server, "  - repo: calc\n    vars: {path: calc/stats.py}\n",
                          no_critics=True)
        batch_spec, targets = load_targets(spec)
        batch = BatchRun(batch_spec.flags(), RateLimiter(None, None), no_critics=True, batch_id=str(results.resolve()))

        def stop_midway(body, role):  # Ctrl-C while the step runs: the next model call is interrupted
            batch.cancel.set()
            return executor(body, role)

        server.set_responder("executor", stop_midway)
        store = ResultsFile(results)
        run_all(targets, batch, 1, on_start=lambda target: None, on_finish=store.append)
        (stopped,) = read_results(results)
        assert stopped["status"] == "interrupted" and stopped["run_id"]

        server.set_responder("executor", executor)
        spec.write_text(spec.read_text().replace("{kind: plain}", "{kind: fancy}"))
        assert _batch(spec, results, jobs=1, resume=True) == 0
    (finished,) = [line for line in read_results(results) if line["status"] != "interrupted"]
    assert finished["status"] == "succeeded" and finished["run_id"] != stopped["run_id"]
    old = json.loads((tmp_path / "calc" / ".agent" / "runs" / stopped["run_id"] / "events.jsonl")
                     .read_text().splitlines()[-1])
    assert old["type"] == "run_interrupted"  # the old run is left as it was, for `agent resume`


def _runs(repos: dict[str, Path]) -> set[Path]:
    return {run for repo in repos.values() for run in (repo / ".agent" / "runs").glob("*")
            if run.is_dir() and is_run_id(run.name)}


def test_an_unexpected_failure_in_one_job_is_only_that_targets_error(tmp_path):
    make_repos(tmp_path)
    with scripted_server() as server:
        spec, targets = load_targets(write_spec(tmp_path / "batch.yaml", server, SEVEN_TARGETS, no_critics=True))

        def on_start(target):
            if target.id == "todo:todo/cli.py":
                raise RuntimeError("boom")

        results = run_all(targets, BatchRun(spec.flags(), RateLimiter(), no_critics=True), 3,
                          on_start=on_start, on_finish=lambda result: None)
    assert results.pop("todo:todo/cli.py").error == "unexpected RuntimeError: boom"
    assert {r.status for r in results.values()} == {"succeeded"} and len(results) == 6


def test_one_limiter_paces_every_job_and_a_429_pauses_them_all(tmp_path):
    make_repos(tmp_path)
    clock = VirtualClock()
    limiter = RateLimiter(requests_per_minute=4, clock=clock, sleep=clock.sleep)
    targets = "  - repo: calc\n    glob: 'calc/*.py'\n  - repo: users\n    vars: {path: users/store.py}\n"
    with scripted_server() as server:
        rate_limited = Turn(error=ErrorSpec(status=429, message="Too many requests", type="rate_limit_error",
                                            headers={"retry-after": "0.5"}))
        server.push("planner", planner({}, "planner"), rate_limited)  # the second planner call gets the 429
        spec = write_spec(tmp_path / "batch.yaml", server, targets, no_critics=True)
        code = _batch(spec, tmp_path / "r.jsonl", limiter=limiter)
        sent = len([r for r in server.requests if r.path.endswith("/chat/completions")])
    assert code == 0
    # each target: plan + two executor turns, plus the 429's retry; every attempt is admitted, retries too
    assert limiter.stats.admitted == sent == 10
    assert most_in_window(limiter.admissions) <= 4 and max(limiter.admissions) >= 120
    (paused_at, until, why), = [p for p in limiter.stats.pauses if p[2] == "retry-after"]
    assert until - paused_at == 0.5 and not [t for t in limiter.admissions if paused_at < t < until]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_batch_continues_its_runs_on_resume(tmp_path, stop):
    make_repos(tmp_path)
    results = tmp_path / "r.jsonl"
    # Two jobs: the third target's run is made ahead (journal, branch, worktree) while the first two run.
    targets = ("  - repo: calc\n    vars: {path: calc/stats.py}\n  - repo: users\n    vars: {path: users/store.py}\n"
               "  - repo: todo\n    vars: {path: todo/cli.py}\n")
    with scripted_server() as server:
        server.set_responder("executor", lambda body, role: executor(body, role).model_copy(update={"delay_s": 1.5}))
        spec = write_spec(tmp_path / "batch.yaml", server, targets, no_critics=True)
        args = [sys.executable, "-m", "agent", "batch", str(spec), "--jobs", "2", "--results", str(results)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(server.requests_for("executor")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(stop)  # both targets are inside their step
        assert proc.wait(timeout=60) == 130
        interrupted = {line["target"]: line["run_id"] for line in read_results(results)}
        assert set(interrupted) == {"calc:calc/stats.py", "users:users/store.py", "todo:todo/cli.py"}
        assert all(interrupted.values()) and {line["status"] for line in read_results(results)} == {"interrupted"}

        server.set_responder("executor", executor)
        plans = planner_count(server)
        resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr + resumed.stdout
        assert planner_count(server) == plans + 1  # journaled plans were kept; only the unstarted run planned
    final = {line["target"]: line for line in read_results(results) if line["status"] != "interrupted"}
    assert {t: line["run_id"] for t, line in final.items()} == interrupted  # the same runs finished
    assert all(line["status"] == "succeeded" and len(line["commits"]) == 1 for line in final.values())
