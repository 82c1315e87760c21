"""Figures for the patch engine on patchbench (prints figures; not a pass/fail test).

    python bench/patchbench.py [--shared DIR] [--in-process] [--only ours|shared] [-v]

Two case sets, each case a folder with `before/`, `after/`, `patch.txt` and `meta.json`
(`kind`, `expect`: apply or refuse):
- ours: `bench/patchbench_cases/<kind>/<case>/`, real-looking Go, Rust, JavaScript, Java, C/C++,
  Makefile and Python files with the mistakes models make outside Python, in every format;
- shared: the shared Python set (`--shared`, default `shared/patchbench/cases` beside the repository).

Each case is copied into a fresh git repository and `agent apply {patch} --repo {repo}` runs on it
as a user would run it (or, with `--in-process`, `apply_patch` is called directly: faster, the
same engine). Outcomes: `applied` (files equal `after/`, exit 0), `refused` (files equal
`before/`, non-zero exit), `wrong` (anything else: a wrong write, a half write, or success claimed
without the change). Prints per set and per kind, then the engine's time per case in process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.patch import apply_patch  # noqa: E402  (after the path fix, for a plain checkout)

OURS = ROOT / "bench" / "patchbench_cases"


@dataclass
class Case:
    """One case folder and what it expects."""

    path: Path
    kind: str
    expect: str


@dataclass
class Outcome:
    """What one case came to, and how long the apply took."""

    case: Case
    result: str  # applied | refused | wrong
    ms: float


def load_cases(folder: Path) -> list[Case]:
    """Every case under `folder` (any depth), in a stable order."""
    cases = []
    for meta in sorted(folder.rglob("meta.json")):
        data = json.loads(meta.read_text())
        cases.append(Case(meta.parent, data["kind"], data["expect"]))
    return cases


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` outside `.git` and `.agent`, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not {".git", ".agent"} & set(p.relative_to(root).parts)}


def run_case(case: Case, in_process: bool) -> Outcome:
    """Apply the case's patch to a fresh copy of `before/` and judge the files that result."""
    before, after = snapshot(case.path / "before"), snapshot(case.path / "after")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(case.path / "before", repo, symlinks=True)
        patch = case.path / "patch.txt"
        if in_process:
            start = time.perf_counter()
            ok = apply_patch(patch.read_bytes().decode("utf-8"), repo).ok
        else:
            subprocess.run("git init -q && git add -A && git -c user.email=a@b -c user.name=a commit -qm base",
                           shell=True, cwd=repo, check=True)
            agent = shutil.which("agent") or f"{sys.executable} -m agent"
            start = time.perf_counter()
            ok = subprocess.run(f"{agent} apply {patch} --repo {repo}", shell=True, cwd=repo,
                                capture_output=True).returncode == 0
        ms = (time.perf_counter() - start) * 1000
        now = snapshot(repo)
    if case.expect == "apply" and ok and now == after:
        return Outcome(case, "applied", ms)
    if not ok and now == before:
        return Outcome(case, "refused", ms)
    return Outcome(case, "wrong", ms)


def report(name: str, outcomes: list[Outcome], verbose: bool) -> None:
    """Print a set's totals and one line per kind: applied / refused / wrong."""
    apply_cases = [o for o in outcomes if o.case.expect == "apply"]
    refuse_cases = [o for o in outcomes if o.case.expect == "refuse"]
    applied = sum(o.result == "applied" for o in apply_cases)
    refused_right = sum(o.result == "refused" for o in refuse_cases)
    wrong = sum(o.result == "wrong" for o in outcomes)
    print(f"{name}: {len(outcomes)} cases; applied {applied}/{len(apply_cases)} "
          f"({applied / max(1, len(apply_cases)):.1%}); refused as expected {refused_right}/{len(refuse_cases)}; "
          f"wrong {wrong} ({wrong / max(1, len(outcomes)):.1%})")
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        by_kind[o.case.kind][o.result] += 1
        by_kind[o.case.kind]["expect-" + o.case.expect] += 1
    print(f"  {'kind':28s} {'cases':>5s} {'applied':>8s} {'refused':>8s} {'wrong':>6s}  (expect refuse)")
    for kind, counts in sorted(by_kind.items()):
        total = counts["applied"] + counts["refused"] + counts["wrong"]
        print(f"  {kind:28s} {total:5d} {counts['applied']:8d} {counts['refused']:8d} {counts['wrong']:6d}"
              f"  ({counts['expect-refuse']})")
    if verbose:
        for o in outcomes:
            if (o.case.expect == "apply") != (o.result == "applied") or o.result == "wrong":
                print(f"    {o.result:8s} {o.case.path.relative_to(o.case.path.parents[1])}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "patchbench" / "cases")
    parser.add_argument("--in-process", action="store_true", help="call apply_patch instead of `agent apply`")
    parser.add_argument("--only", choices=["ours", "shared"])
    parser.add_argument("-v", "--verbose", action="store_true", help="list the cases that did not come out right")
    args = parser.parse_args(argv[1:])
    sets = {"ours": OURS, "shared": args.shared}
    timings: list[float] = []
    for name, folder in sets.items():
        if args.only not in (None, name):
            continue
        if not folder.is_dir():
            print(f"{name}: no cases under {folder}", file=sys.stderr)
            continue
        outcomes = [run_case(case, args.in_process) for case in load_cases(folder)]
        report(name, outcomes, args.verbose)
        if args.in_process:
            timings += [o.ms for o in outcomes]
    if len(timings) > 1:
        print(f"engine in-process: {len(timings)} cases, median {statistics.median(timings):.1f} ms, "
              f"p90 {statistics.quantiles(timings, n=10)[-1]:.1f} ms, max {max(timings):.1f} ms per case")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
