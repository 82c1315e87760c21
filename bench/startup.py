"""Startup time: `agent --help` against a bare `python -c pass`, median of N runs each.

    python bench/startup.py [--runs 10]

Target: `agent --help` within 0.25 s of bare interpreter start. The console script next to this
interpreter is timed (not a version manager's shim, which adds its own start-up); without one,
`python -m agent --help`. To see what is imported: `python -X importtime -m agent --help`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.25


def agent_argv() -> list[str]:
    """The installed console script beside this interpreter, else `python -m agent`."""
    script = Path(sys.executable).with_name("agent")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "--help"]
    return [sys.executable, "-m", "agent", "--help"]


def median_wall_time(argv: list[str], runs: int) -> float:
    """Median wall time of `argv` over `runs` runs, after one untimed warm-up run."""
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(argv, check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    argv = agent_argv()
    bare = median_wall_time([sys.executable, "-c", "pass"], runs)
    agent = median_wall_time(argv, runs)
    over = agent - bare
    print(f"python -c pass      {bare * 1000:7.1f} ms  (median of {runs})")
    print(f"{' '.join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)):<19} "
          f"{agent * 1000:7.1f} ms  (median of {runs})")
    verdict = "within" if over <= TARGET_S else "OVER"
    print(f"difference          {over * 1000:7.1f} ms  ({verdict} the {TARGET_S * 1000:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
