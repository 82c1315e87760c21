"""What the qa critic's probes and browser add to a gate, in wall time.

    python bench/qa_costs.py [--runs 5]

Both go through the QA kit exactly as a gate uses it, on a git repository of a workspace fixture:
- probe: the scratch copy of the judged tree, one probe test run there with the project's test
  command in the sandbox, the copy removed; beside it, the same suite run in the worktree
  (what the gate's own test run costs), for scale.
- browser: the web_notes app and Chromium started in one sandbox from a scratch copy, the page
  opened, a field filled, a button clicked (a failing interaction: a screenshot is taken), then
  everything closed.
Printed: the median and range of each over the runs. A part whose tools are missing is skipped
with the reason.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.llm.types import ToolCall  # noqa: E402
from agent.qa import QAKit, QASetup  # noqa: E402
from tools.browser import browser_missing  # noqa: E402
from tools.registry import ToolContext  # noqa: E402
from tools.sandbox import detect_sandbox  # noqa: E402
from tools.testrun import RunTestsArgs, run_tests  # noqa: E402
from tools.webapp import find_app  # noqa: E402

TEST_CMD = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"
PROBE = "from calc import median\n\n\ndef test_median_of_six():\n    assert median([6, 1, 5, 2, 4, 3]) == 3.5\n"


def repository(fixture: str, where: Path) -> Path:
    repo = where / fixture
    shutil.copytree(ROOT / "workspace_fixtures" / fixture, repo, ignore=shutil.ignore_patterns("__pycache__"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-qm", "fixture"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def kit(repo: Path, run_folder: Path) -> QAKit:
    context = ToolContext(root=repo, test_command=TEST_CMD)
    setup = QASetup(context, repo / ".git" / "index", None, find_app(repo, None, None), run_folder, "step-1")
    return QAKit(setup, "qa")


def call(tool: str, **arguments: object) -> ToolCall:
    return ToolCall(id=tool, name=tool, arguments=json.dumps(arguments))


def time_probe(repo: Path, run_folder: Path) -> tuple[float, float]:
    """(seconds for one probe with its scratch copy, seconds for the same suite run in the worktree)."""
    started = time.monotonic()
    qa = kit(repo, run_folder)
    try:
        qa.run(call("run_probe", path="tests/test_probe.py", content=PROBE, args=["tests/test_probe.py"]))
    finally:
        qa.close()
    probe = time.monotonic() - started
    started = time.monotonic()
    run_tests(RunTestsArgs(args=["tests/test_stats.py"]), ToolContext(root=repo, test_command=TEST_CMD))
    return probe, time.monotonic() - started


def time_browser(repo: Path, run_folder: Path) -> tuple[float, float]:
    """(seconds until the first page was open, seconds for the whole flow including the close)."""
    started = time.monotonic()
    qa = kit(repo, run_folder)
    try:
        qa.run(call("browser_open", path="/"))
        opened = time.monotonic() - started
        qa.run(call("browser_fill", name="Note", value="milk"))
        qa.run(call("browser_click", role="button", name="Add"))
    finally:
        qa.close()
    return opened, time.monotonic() - started


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (range {min(values):.2f}-{max(values):.2f} s, {len(values)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"sandbox: {detect_sandbox().detail}")
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        where = Path(tmp)
        calc, notes = repository("calc_bug", where), repository("web_notes", where)
        probes = [time_probe(calc, where / "run") for _ in range(runs)]
        print(f"probe per gate (scratch copy + one sandboxed probe run + cleanup): {summary([p for p, _ in probes])}")
        print(f"  for scale, the same suite run in the worktree: {summary([s for _, s in probes])}")
        missing = browser_missing()
        if missing is not None:
            print(f"browser: skipped ({missing})")
            return
        flows = [time_browser(notes, where / "run") for _ in range(runs)]
        print(f"browser: app + Chromium started, first page open: {summary([o for o, _ in flows])}")
        print(f"browser per gate (open, fill, failing click with screenshot, close): {summary([t for _, t in flows])}")


if __name__ == "__main__":
    main()
