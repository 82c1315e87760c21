"""Figures for `agent batch --ray` (prints figures; not a pass/fail test). Needs the ray extra.

    python bench/batch_ray.py [--targets 24] [--jobs 6] [--delay 0.2] [--nodes 1,2,3]

The same batch as bench/batch.py (TARGETS full gated runs over three fixture repositories, every
scripted model answer delayed DELAY seconds), run by the real CLI: once with the thread pool
(`--jobs JOBS`), then on local Ray clusters of 1, 2 and 3 nodes holding JOBS CPU slots between
them (`--ray ADDRESS --jobs JOBS`), so every run has the same targets in flight. The cluster's
start is timed apart from the batch. Then the limiter's accuracy: a batch on the largest cluster
with a requests-per-minute limit (the "minute" scaled down to WINDOW seconds so the bench ends),
and the requests the server saw in its busiest window over the limit (target: at most 1.0).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from batch import _server, _spec  # noqa: E402  (bench/batch.py: the same targets and scripted model)

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from rich.console import Console  # noqa: E402

from agent.batch.limiter import RateLimiter  # noqa: E402
from agent.commands.batch import batch_command  # noqa: E402


def _cluster(nodes: int, slots: int) -> Cluster:
    """`nodes` Ray nodes on this machine sharing `slots` CPU slots (the head node takes the rest)."""
    each = math.ceil(slots / nodes)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": slots - each * (nodes - 1),
                                                            "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=each)
    cluster.wait_for_nodes()
    return cluster


def _cli_batch(targets: int, jobs: int, delay: float, ray_address: str | None) -> tuple[float, int, int, float]:
    """Wall seconds, targets succeeded, exit code, and the median seconds one target took where it
    ran (its results line's duration), of one CLI batch on fresh repositories."""
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp, _server(delay) as server:
        spec = _spec(Path(tmp), server, targets)
        results = Path(tmp) / "results.jsonl"
        command = [sys.executable, "-m", "agent", "batch", str(spec), "--jobs", str(jobs), "--results", str(results)]
        command += ["--ray", ray_address] if ray_address else []
        started = time.perf_counter()
        proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
        lines = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
        ok = sum(1 for line in lines if line.get("status") == "succeeded")
        each = statistics.median(line["duration_s"] for line in lines) if lines else 0.0
    return wall, ok, proc.returncode, each


def _busiest(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max((sum(1 for u in ordered if t <= u < t + window) for t in ordered), default=0)


def _limiter_accuracy(cluster: Cluster, targets: int, jobs: int, delay: float, rpm: int,
                      window: float) -> tuple[float, float]:
    """The busiest `window` over `rpm` (the limit per window): of the limiter's admissions, and of
    the requests as the server saw them arrive."""
    limiter = RateLimiter(rpm, window_s=window)
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp, _server(delay) as server:
        spec = _spec(Path(tmp), server, targets)
        batch_command(spec, jobs=jobs, resume=False, dry_run=False, results=Path(tmp) / "results.jsonl",
                      predictions=None, console=Console(file=io.StringIO()), limiter=limiter, ray=cluster.address)
        arrivals = [r.started for r in server.requests if r.path.endswith("/chat/completions")]
    return _busiest(limiter.admissions, window) / rpm, _busiest(arrivals, window) / rpm


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds before each scripted answer")
    parser.add_argument("--nodes", default="1,2,3", help="cluster sizes to run, comma-separated")
    parser.add_argument("--rpm", type=int, default=40, help="requests per window for the limiter figure")
    parser.add_argument("--window", type=float, default=5.0, help="the limiter's 'minute', in seconds")
    args = parser.parse_args(argv[1:])
    sizes = [int(n) for n in args.nodes.split(",")]
    wall, ok, code, each = _cli_batch(args.targets, args.jobs, args.delay, None)
    print(f"thread pool --jobs {args.jobs}: wall {wall:6.2f} s, {ok}/{args.targets} succeeded, exit {code}, "
          f"median target {each:.2f} s")
    failed = code != 0
    for nodes in sizes:
        started = time.perf_counter()
        cluster = _cluster(nodes, args.jobs)
        up = time.perf_counter() - started
        try:
            wall, ok, code, each = _cli_batch(args.targets, args.jobs, args.delay, cluster.address)
            print(f"ray, {nodes} node(s), --jobs {args.jobs}: wall {wall:6.2f} s, {ok}/{args.targets} succeeded, "
                  f"exit {code}, median target {each:.2f} s on its worker (cluster start {up:.1f} s, not counted)")
            failed |= code != 0
            if nodes == sizes[-1]:
                admitted, seen = _limiter_accuracy(cluster, args.targets, args.jobs, args.delay, args.rpm,
                                                   args.window)
                print(f"limiter on {nodes} node(s), limit {args.rpm} requests per {args.window:.0f} s window: "
                      f"busiest window admitted {admitted:.2f}x the limit (target <= 1.0: "
                      f"{'met' if admitted <= 1.0 else 'NOT met'}); as the server saw them arrive {seen:.2f}x")
        finally:
            ray.shutdown()
            cluster.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
