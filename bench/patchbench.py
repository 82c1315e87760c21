"""Figures for the patch engine on patchbench (prints figures; not a pass/fail test).

    python bench/patchbench.py [SHARED_DIR]

1. The shared scorer runs `agent apply {patch} --repo {repo}` on every case (a subprocess per case,
   as a user would run it) and prints its summary.
2. The engine alone, in process: `apply_patch` on a fresh copy of each case's `before/`, timed
   without the copy; prints the median and worst milliseconds per case.
SHARED_DIR defaults to `shared/` next to the repository root.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.patch import apply_patch  # noqa: E402  (after the path fix, for a plain checkout)


def score_with_cli(shared: Path) -> int:
    """Run the shared scorer on `agent apply`; return its exit code."""
    agent = "agent" if shutil.which("agent") else f"{sys.executable} -m agent"
    command = [sys.executable, str(shared / "patchbench" / "score.py"), str(shared / "patchbench" / "cases"),
               f"{agent} apply {{patch}} --repo {{repo}}"]
    print("$", " ".join(command[1:3]), repr(command[3]), flush=True)
    return subprocess.run(command, cwd=ROOT).returncode


def time_engine(cases: Path) -> list[float]:
    """Milliseconds `apply_patch` takes on each case, the copy of `before/` not counted."""
    timings = []
    for case in sorted(p for p in cases.iterdir() if p.is_dir()):
        text = (case / "patch.txt").read_bytes().decode("utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "repo"
            shutil.copytree(case / "before", repo)
            start = time.perf_counter()
            apply_patch(text, repo)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def main(argv: list[str]) -> int:
    shared = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared"
    if not (shared / "patchbench" / "cases").is_dir():
        print(f"no patchbench cases under {shared}; pass the shared/ directory as an argument", file=sys.stderr)
        return 2
    code = score_with_cli(shared)
    timings = time_engine(shared / "patchbench" / "cases")
    print(f"engine in-process: {len(timings)} cases, median {statistics.median(timings):.1f} ms, "
          f"p90 {statistics.quantiles(timings, n=10)[-1]:.1f} ms, max {max(timings):.1f} ms per case")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
