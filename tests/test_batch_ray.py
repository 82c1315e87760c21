"""`agent batch --ray` on a real multi-node Ray cluster on this machine: file:// and bundled
repositories, the scripted model over HTTP, branches fetched back, one limiter, faults, secrets."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from rich.console import Console

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from agent.batch.limiter import RateLimiter  # noqa: E402
from agent.commands.batch import batch_command  # noqa: E402
from agent.testing import ScriptedServer  # noqa: E402
from conftest import git, run_cli  # noqa: E402
from test_batch_support import (  # noqa: E402
    make_repos, most_in_window, planner, read_results, scripted_server, task_of, write_spec,
)

pytestmark = pytest.mark.ray
SECRET = "csk-ray-test-0123456789abcdefSECRET"  # the key the nodes hold; it must never show in Ray's records


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Two Ray nodes of two CPU slots each, shared by the module; their environment holds the key."""
    saved = os.environ.get("CEREBRAS_API_KEY")
    os.environ["CEREBRAS_API_KEY"] = SECRET
    try:
        # The dashboard is on: the tests read its task list (names by target id, no key in any spec).
        nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": True})
        nodes.add_node(num_cpus=2)
        nodes.wait_for_nodes()
    finally:
        if saved is None:
            os.environ.pop("CEREBRAS_API_KEY", None)
        else:
            os.environ["CEREBRAS_API_KEY"] = saved
    try:
        yield nodes
    finally:
        nodes.shutdown()


def _spec(tmp_path: Path, server: ScriptedServer, *, small: bool = False,
          **settings: object) -> tuple[Path, dict[str, Path]]:
    """Seven targets: calc and users by file:// URL (workers clone them), todo by path (a bundle);
    `small`: three, calc's two and todo's `store.py`."""
    repos = make_repos(tmp_path)
    todo = '  - repo: todo\n    vars: {path: todo/store.py}\n' if small else '  - repo: todo\n    glob: "todo/*.py"\n'
    users = "" if small else (f'  - repo: "file://{repos["users"]}"\n    id: users-store\n'
                              '    vars: {path: users/store.py}\n')
    targets = f'  - repo: "file://{repos["calc"]}"\n    glob: "calc/*.py"\n' + todo + users
    return write_spec(tmp_path / "batch.yaml", server, targets, **settings), repos


def _batch(spec: Path, results: Path, address: str, *, jobs: int = 4, resume: bool = False,
           limiter: RateLimiter | None = None) -> int:
    return batch_command(spec, jobs=jobs, resume=resume, dry_run=False, results=results, predictions=None,
                         console=Console(file=io.StringIO(), width=120), limiter=limiter, ray=address)


def _planned(server: ScriptedServer) -> dict[str, int]:
    """How many runs the server planned, by task marker."""
    counts: dict[str, int] = {}
    for request in server.requests_for("planner"):
        marker = task_of(request.body)
        counts[marker] = counts.get(marker, 0) + 1
    return counts


def test_every_target_runs_on_the_cluster_and_its_branch_comes_home(tmp_path, cluster):
    with scripted_server() as server:
        spec, repos = _spec(tmp_path, server)
        code = _batch(spec, tmp_path / "out.jsonl", cluster.address)
    assert code == 0
    lines = read_results(tmp_path / "out.jsonl")
    assert len(lines) == 7 and {line["status"] for line in lines} == {"succeeded"}
    assert len({line["node"] for line in lines}) == 2  # spread over both nodes, each named
    for line in lines:
        repo = Path(line["repo"])
        assert repo in repos.values()
        assert git(repo, "rev-parse", line["branch"]).strip() == line["commits"][-1]
        assert f"+plain note {line['vars']['path']}" in line["patch"]
        report = json.loads((repo / ".agent" / "runs" / line["run_id"] / "report.json").read_text())
        assert report["repo"] == str(repo) and report["status"] == "succeeded"
        assert (Path(report["worktree"]) / "NOTES.md").read_text() == f"plain note {line['vars']['path']}\n"
    for repo in repos.values():  # the user's checkouts are untouched
        assert git(repo, "status", "--porcelain") == "" and git(repo, "branch", "--show-current").strip() == "main"
    first = lines[0]
    shown = run_cli("show", first["run_id"], "--repo", first["repo"], "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["branch"] == first["branch"]
    undone = run_cli("undo", first["run_id"], "--repo", first["repo"])
    assert undone.exit_code == 0, undone.stderr
    assert git(Path(first["repo"]), "branch", "--list", first["branch"]) == ""


def test_one_rate_limit_holds_across_the_nodes(tmp_path, cluster):
    # Four requests per two-second "minute" for the whole cluster; three targets of three requests.
    limiter = RateLimiter(4, window_s=2.0)
    with scripted_server() as server:
        spec, _ = _spec(tmp_path, server, small=True, no_critics=True)
        code = _batch(spec, tmp_path / "out.jsonl", cluster.address, limiter=limiter)
        arrivals = [r.started for r in server.requests]
    assert code == 0 and len(arrivals) == 9
    assert len(limiter.admissions) == 9  # the driver's limiter holds the cluster's record
    assert most_in_window(limiter.admissions, 2.0) == 4  # the limit, reached and never passed
    assert max(limiter.admissions) - min(limiter.admissions) >= 4.0  # nine calls at four per window
    # As the server saw them arrive, over the same window: a charge leaves the window only a window
    # after its response began; limiters of their own per node would let eight at once.
    assert most_in_window(arrivals, 2.0) <= 4


def _kill_worker_running(target: str) -> None:
    """SIGKILL the Ray worker process whose title names the task `target` (Ray titles it `ray::NAME`)."""
    wanted = f"ray::{target}".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[0] == wanted:
                os.kill(int(proc.name), signal.SIGKILL)
                return
        except OSError:
            continue
    raise AssertionError(f"no worker runs {target}")


def test_a_killed_worker_has_its_target_run_again_once(tmp_path, cluster):
    with scripted_server() as server:
        killed: list[str] = []

        def planner_killing_once(body: dict, role: str):
            if "calc/stats.py" in task_of(body) and not killed:
                killed.append("calc:calc/stats.py")
                _kill_worker_running("calc:calc/stats.py")
            return planner(body, role)

        server.set_responder("planner", planner_killing_once)
        spec, repos = _spec(tmp_path, server, small=True)
        code = _batch(spec, tmp_path / "out.jsonl", cluster.address)
        planned = _planned(server)
    assert killed and code == 0
    lines = read_results(tmp_path / "out.jsonl")
    assert sorted(line["target"] for line in lines) == sorted(set(line["target"] for line in lines))
    assert {line["status"] for line in lines} == {"succeeded"} and len(lines) == 3
    assert planned["plain note calc/stats.py"] == 2 and all(n == 1 for k, n in planned.items() if "stats" not in k)
    # one branch for the target: the killed attempt left nothing in the repository
    assert len(git(repos["calc"], "for-each-ref", "--format=%(refname)", "refs/heads/agent/").split()) == 2


def _driver_until(spec: Path, results: Path, address: str, lines: int, sig: signal.Signals,
                  *extra: str) -> subprocess.CompletedProcess[str]:
    """`agent batch --ray` in a subprocess, sent `sig` once the results file holds `lines` lines."""
    driver = subprocess.Popen([sys.executable, "-m", "agent", "batch", str(spec), "--ray", address, "--jobs", "2",
                               "--results", str(results), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not results.exists() or len(read_results(results)) < lines):
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.1)
    driver.send_signal(sig)
    out, err = driver.communicate(timeout=60)
    return subprocess.CompletedProcess(driver.args, driver.returncode, out, err)


def test_ctrl_c_then_a_killed_driver_and_resume_redo_no_finished_target(tmp_path, cluster):
    with scripted_server(delay_s=0.3) as server:
        spec, _ = _spec(tmp_path, server)
        results = tmp_path / "out.jsonl"
        interrupted = _driver_until(spec, results, cluster.address, 2, signal.SIGINT)
        assert interrupted.returncode == 130, interrupted.stderr
        assert "continue with --resume" in interrupted.stdout
        after_ctrl_c = read_results(results)
        assert {line["status"] for line in after_ctrl_c} == {"succeeded"}  # in-flight targets: not recorded
        killed = _driver_until(spec, results, cluster.address, len(after_ctrl_c) + 2, signal.SIGKILL, "--resume")
        assert killed.returncode == -signal.SIGKILL
        before = {line["target"]: line for line in read_results(results)}
        assert len(before) < 7
        planned_before = _planned(server)
        code = _batch(spec, results, cluster.address, resume=True)
        planned = _planned(server)
    assert code == 0
    lines = read_results(results)
    assert len(lines) == 7 and len({line["target"] for line in lines}) == 7  # never a target twice
    for line in before.values():  # finished before the kill: not run again
        marker = f"plain note {line['vars']['path']}"
        assert planned[marker] == planned_before[marker]
    assert sum(planned.values()) >= 7


def test_the_key_reaches_workers_but_no_ray_record(tmp_path, cluster, monkeypatch):
    monkeypatch.setenv("CEREBRAS_API_KEY", SECRET)
    with scripted_server() as server:
        spec, _ = _spec(tmp_path, server, small=True, no_critics=True)
        assert _batch(spec, tmp_path / "out.jsonl", cluster.address) == 0
        auth = {r.headers.get("authorization") for r in server.requests}
    assert auth == {f"Bearer {SECRET}"}  # the workers called with the key
    from ray.util.state import list_tasks

    tasks = list_tasks(address=cluster.address, detail=True, limit=10_000, raise_on_missing_output=False)
    named = {task.name for task in tasks}
    assert {line["target"] for line in read_results(tmp_path / "out.jsonl")} <= named  # the dashboard's names
    assert SECRET not in json.dumps([task.__dict__ for task in tasks], default=str)
    session = Path(cluster.head_node.get_session_dir_path())
    leaked = [path for path in session.rglob("*") if path.is_file() and not path.is_symlink()
              and SECRET.encode() in path.read_bytes()]
    assert leaked == []
