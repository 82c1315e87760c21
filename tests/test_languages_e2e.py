"""`agent run` on real projects in other languages, with no --test-cmd: the test command is
detected, its results read (counts and failing ids), and the run succeeds only once a test passes.

Each test needs the language's toolchain, runnable inside the sandbox; without it the test skips
and says which is missing (.ci/run installs them).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from conftest import git, make_repo
from run_helpers import verdict
from tools.sandbox import run_sandboxed

DEBIAN_MAVEN_REPO = Path("/usr/share/maven-repo")
SUREFIRE = DEBIAN_MAVEN_REPO / "org/apache/maven/plugins/maven-surefire-plugin/2.22.3"


@dataclass(frozen=True)
class Language:
    fixture: str
    tool: str  # the program the test command needs inside the sandbox
    path: str  # the file the fix edits
    bug: str
    fix: str
    first: dict[str, int]  # counts of the first run, before the fix
    failing: list[str]  # failing ids of the first run
    fixed: dict[str, int]  # counts once fixed

    def __str__(self) -> str:
        return self.fixture


def counts(passed: int, failed: int, skipped: int = 0, errors: int = 0) -> dict[str, int]:
    return {"passed": passed, "failed": failed, "errors": errors, "skipped": skipped}


LANGUAGES = [
    Language("go_wordstats", "go", "wordstats.go", 'return len(strings.Split(text, " "))',
             "return len(strings.Fields(text))", counts(3, 1), ["TestWordCountExtraSpaces (wordstats_test.go:13)"],
             counts(4, 0)),
    Language("rust_temperature", "cargo", "src/lib.rs", "(f - 32.0) * 9.0 / 5.0", "(f - 32.0) * 5.0 / 9.0",
             counts(2, 2), ["tests::boiling_point_in_celsius (src/lib.rs:24)",
                            "body_temperature_round_trips (tests/round_trip.rs:6)"], counts(4, 0)),
    Language("java_clamp", "mvn", "src/main/java/clamp/Range.java",
             "if (value > high) {\n            return low;", "if (value > high) {\n            return high;",
             counts(4, 1), ["RangeTest.lowersValuesAbove (RangeTest.java:24)"], counts(5, 0)),
    Language("cpp_leap", "cmake", "src/calendar.cpp", "return year % 4 == 0 && year % 100 != 0;",
             "return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;",
             counts(1, 1), ["leap_years (tests/test_leap_years.cpp:8)"], counts(2, 0)),
    Language("js_slug", "npm", "src/slug.js", ".join('-');", ".join('-')\n    .toLowerCase();",
             counts(3, 1), ["slugify > lower-cases every letter (test/slug.test.js:12)"], counts(4, 0)),
]


def _skip_reason(lang: Language, tmp_path: Path) -> str | None:
    """Why this machine cannot run the language's tests in the sandbox, or None when it can."""
    if shutil.which(lang.tool) is None:
        return f"{lang.tool} is not installed (.ci/run installs it)"
    version = "go version" if lang.tool == "go" else f"{lang.tool} --version"
    probe = run_sandboxed(version, tmp_path, timeout_s=60, mode="auto", output_cap=2000)
    if probe.exit_code != 0:
        first = (probe.output.strip().splitlines() or ["no output"])[0]
        return f"{lang.tool} does not run inside the test sandbox: {first}"
    if lang.tool == "mvn" and not SUREFIRE.is_dir():
        return "Maven Central is out of reach and Debian's Maven plugins are missing (apt-get install libsurefire-java)"
    if lang.tool == "npm" and "setup_cmd" not in AgentConfig.model_fields:
        return "setup_cmd (which installs the fixture's dev dependency) is not supported yet"
    return None


def _repo(lang: Language, tmp_path: Path) -> Path:
    reason = _skip_reason(lang, tmp_path)
    if reason is not None:
        pytest.skip(reason)
    repo = make_repo(tmp_path / lang.fixture, lang.fixture)
    if lang.tool == "mvn":
        # No network: Maven reads its plugins from Debian's packaged repository, offline.
        (repo / ".mvn").mkdir()
        (repo / ".mvn/maven.config").write_text(f"-o\n-Dmaven.repo.local={DEBIAN_MAVEN_REPO}\n")
        (repo / ".mvn/jvm.config").write_text("-XX:TieredStopAtLevel=1\n")  # a short-lived JVM starts faster
    if lang.tool == "npm":
        (repo / ".agent.toml").write_text('setup_cmd = "npm ci --no-audit --no-fund"\n')
    if lang.tool in ("mvn", "npm"):
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "project settings")
    return repo


def _script(lang: Language, *, fix: bool) -> Script:
    step = {"title": "Fix the failing test", "description": f"A test fails; the bug is in {lang.path}.",
            "acceptance": "The whole test suite passes."}
    run_tests = Turn(tool_calls=[ToolCallSpec(name="run_tests")])
    patch = f"{lang.path}\n<<<<<<< SEARCH\n{lang.bug}\n=======\n{lang.fix}\n>>>>>>> REPLACE\n"
    edit = Turn(tool_calls=[ToolCallSpec(name="write_patch", arguments={"patch": patch})])
    finish = Turn(tool_calls=[ToolCallSpec(name="finish_step", arguments={"summary": "fixed"})])
    executor = [run_tests, edit, run_tests, finish] if fix else [run_tests, finish]
    return Script(turns={"planner": [Turn(content=json.dumps({"steps": [step]}))], "executor": executor},
                  defaults={critic: verdict() for critic in ("reviewer", "qa", "security", "performance")})


def _run(repo: Path, server: ScriptedServer, cli):
    return cli("run", "fix the failing test", "--repo", str(repo), "--base-url", server.base_url, "--json", "--yes",
               timeout=600)


def _test_runs(repo: Path, run_id: str) -> list[dict]:
    events = [json.loads(line) for line in (repo / ".agent/runs" / run_id / "events.jsonl").read_text().splitlines()]
    return [e["data"] for e in events if e["type"] == "tool_call" and e["name"] == "run_tests"]


def _only_counts(data: dict) -> dict[str, int]:
    return {k: data.get(k) for k in ("passed", "failed", "errors", "skipped")}


@pytest.mark.parametrize("lang", LANGUAGES, ids=str)
def test_a_fix_makes_the_detected_tests_pass(lang: Language, tmp_path: Path, cli) -> None:
    repo = _repo(lang, tmp_path)
    with ScriptedServer(_script(lang, fix=True)) as server:
        result = _run(repo, server, cli)
        executor = [r.body for r in server.requests_for("executor")]
    report = json.loads(result.stdout)
    first, second = _test_runs(repo, report["run_id"])[:2]
    assert first["exit_code"] != 0 and _only_counts(first) == lang.first and first["failing"] == lang.failing
    # The model reads the failing ids, not only the raw output.
    assert f"failing ({len(lang.failing)}): {'; '.join(lang.failing)}" in executor[1]["messages"][-1]["content"]
    assert second["exit_code"] == 0 and _only_counts(second) == lang.fixed and second["failing"] == []
    assert result.exit_code == 0, result.stderr
    assert report["status"] == "succeeded"
    assert _only_counts(report["tests"]) == lang.fixed and report["tests"]["exit_code"] == 0


@pytest.mark.parametrize("lang", LANGUAGES, ids=str)
def test_without_the_fix_the_run_does_not_succeed(lang: Language, tmp_path: Path, cli) -> None:
    repo = _repo(lang, tmp_path)
    with ScriptedServer(_script(lang, fix=False)) as server:
        result = _run(repo, server, cli)
        qa = server.requests_for("qa")[0].body["messages"][-1]["content"]
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["status"] == "failed"
    assert _only_counts(report["tests"]) == lang.first and report["tests"]["failing"] == lang.failing
    assert all(test_id in qa for test_id in lang.failing)  # the critics get the failing ids too
