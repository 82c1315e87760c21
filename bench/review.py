"""`agent review` on a generated 2,000-line diff against the scripted server (200 ms per call).

    python bench/review.py [--lines 2000] [--delay 0.2] [--files 20] [--part-tokens 0 3000]

Prints, per part budget: model calls, parts, prompt tokens sent (the server's count), wall time,
and the time the same calls would take one by one.
Budget 0 is the default (context minus the answer's budget); smaller budgets force splitting, and
the parts are reviewed concurrently, so wall time grows far slower than the number of calls.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.commands.review import review_command
from agent.llm.client import LLMClient  # noqa: F401  imported up front: the first run must not pay for it
from agent.testing import Script, ScriptedServer, Turn
from critics.registry import BUILTIN_CRITICS
from agent.testing.wire import estimate_tokens, prompt_text

CRITICS = BUILTIN_CRITICS


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_repo(root: Path, lines: int, files: int) -> Path:
    """main with a README; feature adds `lines` lines of Python spread over `files` modules."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.invalid")
    git(repo, "config", "user.name", "bench")
    (repo / "README.md").write_text("bench\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    per_file = lines // files
    for n in range(files):
        body = "".join(f"def handler_{n}_{i}(request):\n    return request.get('field_{i}', {i})\n"
                       for i in range(per_file // 2))
        (repo / f"service_{n:02d}.py").write_text(body)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature")
    return repo


def run_once(repo: Path, delay: float, part_tokens: int | None) -> dict[str, float]:
    answer = Turn(content=json.dumps({"verdict": "approve", "findings": []}), delay_s=delay)
    with ScriptedServer(Script(defaults={c: answer for c in CRITICS})) as server:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            review_command(repo, base="main", head="feature", critics=None, fmt="json", output=None, fail_on=None,
                           post=False, github_api_url=None, flags={"base_url": server.base_url},
                           part_tokens=part_tokens)
        wall = time.perf_counter() - started
        requests = [r for c in CRITICS for r in server.requests_for(c)]
    tokens = sum(estimate_tokens(prompt_text(r.body)) for r in requests)
    parts = len({r.body["messages"][1]["content"].split("\n", 1)[0] for r in requests})
    return {"calls": len(requests), "parts": parts, "tokens": tokens, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--part-tokens", type=int, nargs="*", default=[0, 6000, 3000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp), args.lines, args.files)
        diff_lines = subprocess.run(["git", "diff", "main...feature"], cwd=repo, capture_output=True,
                                    text=True, check=True).stdout.count("\n")
        print(f"diff: {diff_lines:,} lines in {args.files} files; scripted delay {args.delay * 1000:.0f} ms per call; "
              f"critics: {', '.join(CRITICS)}")
        print(f"{'part budget':>14} {'parts':>6} {'calls':>6} {'tokens sent':>12} {'wall s':>8} {'one by one s':>13}")
        for budget in args.part_tokens:
            figures = run_once(repo, args.delay, budget or None)
            label = "default" if not budget else f"{budget:,} tok"
            print(f"{label:>14} {figures['parts']:>6.0f} {figures['calls']:>6.0f} {figures['tokens']:>12,.0f} "
                  f"{figures['wall']:>8.2f} {figures['calls'] * args.delay:>13.2f}")


if __name__ == "__main__":
    sys.exit(main())
