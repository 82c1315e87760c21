"""Findings that must prove what they claim, and critics that skip changes that do not concern them,
through `agent run` and `agent review` with scripted critics."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from agent.testing import Script, ScriptedServer, Turn
from conftest import git, make_repo
from run_helpers import CRITICS, TEST_CMD, executor_turn, finish_turn, plan_turn, run_args, verdict

FIX = ("calc/stats.py\n<<<<<<< SEARCH\n    return (ordered[mid] + ordered[mid + 1]) / 2\n=======\n"
       "    return (ordered[mid - 1] + ordered[mid]) / 2\n>>>>>>> REPLACE\n")
SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def fix_script(**critics: list[Turn]) -> Script:
    """One step that fixes median(); each named critic's turns as given, every other critic approving."""
    executor = [executor_turn("write_patch", patch=FIX), finish_turn("fixed median()"),
                executor_turn("run_tests"), finish_turn("checked again")]
    return Script(turns={"planner": [plan_turn("Fix median")], "executor": executor, **critics},
                  defaults={name: verdict() for name in CRITICS})


def events(repo: Path, report: dict, kind: str) -> list[dict]:
    journal = repo / ".agent" / "runs" / report["run_id"] / "events.jsonl"
    return [e for e in map(json.loads, journal.read_text().splitlines()) if e["type"] == kind]


def test_a_finding_citing_a_line_that_does_not_exist_is_dropped_and_the_step_passes(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    invented = {"severity": "high", "message": "median() divides by zero on line 400", "file": "calc/stats.py",
                "line": 400, "evidence": "return total / 0", "suggestion": None}
    not_there = {"severity": "medium", "message": "the loop is quadratic", "file": "calc/stats.py", "line": 27,
                 "evidence": "for a in ordered:\n    for b in ordered:", "suggestion": None}
    advice = {"severity": "low", "message": "consider statistics.median", "file": None, "line": None,
              "evidence": None, "suggestion": None}
    script = fix_script(reviewer=[verdict("request_changes", invented, advice)],
                        performance=[verdict("request_changes", not_there)])
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median"))
        executor_requests = len(server.requests_for("executor"))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    step = report["steps"][0]
    assert step["status"] == "approved" and step["attempts"] == 1 and executor_requests == 2
    reviewer = step["verdicts"]["reviewer"]
    assert reviewer["verdict"] == "approve" and [f["message"] for f in reviewer["findings"]] == [advice["message"]]
    assert reviewer["dropped"][0]["reason"] == "line 400 is beyond the end of calc/stats.py (49 lines)"
    assert "every blocking finding it gave was dropped" in reviewer["note"]
    dropped = {e["critic"]: e for e in events(repo, report, "finding_dropped")}
    assert dropped["reviewer"]["finding"]["message"] == invented["message"] and dropped["reviewer"]["approved_after_drops"]
    assert dropped["performance"]["reason"] == "its evidence is not in calc/stats.py:27 (nor in the test output)"
    trailers = git(repo, "log", "-1", "--format=%(trailers)", report["branch"])
    assert "Reviewer: approve" in trailers and "Performance: approve" in trailers


def test_a_supported_finding_blocks_and_reaches_the_executor_with_its_evidence(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    # Quoted as read_file shows it (its line number copied along), near the line it names.
    real = {"severity": "medium", "message": "median() and mean() both call _require_values", "file": "calc/stats.py",
            "line": 24, "evidence": "24\t    _require_values(values)\n25\t    ordered = sorted(values)",
            "suggestion": "fine, keep it"}
    # Quoted from the test output the critics were shown, naming no file.
    tested = {"severity": "high", "message": "the suite reports a result", "file": None, "line": None,
              "evidence": "7 passed", "suggestion": None}
    script = fix_script(reviewer=[verdict("request_changes", real)], qa=[verdict("request_changes", tested)])
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median"))
        revision = server.requests_for("executor")[2].body["messages"][-1]["content"]
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["steps"][0]["attempts"] == 2 and not events(repo, report, "finding_dropped")
    assert "_require_values(values)" in revision and "Evidence:" in revision and "7 passed" in revision


def test_a_docs_only_step_skips_the_performance_critic_and_says_so(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    executor = [executor_turn("write_file", path="docs/usage.md", content="# Usage\n"), finish_turn("documented"),
                executor_turn("write_patch", patch=FIX), finish_turn("fixed median()")]
    script = Script(turns={"planner": [plan_turn("Document usage", "Fix median")], "executor": executor},
                    defaults={name: verdict() for name in CRITICS})
    with ScriptedServer(script) as server:
        result = cli("run", "document and fix", "--repo", str(repo), "--base-url", server.base_url, "--test-cmd",
                     TEST_CMD, "--yes")  # plain output: what a person reads
        asked = [r.body["messages"][1]["content"] for r in server.requests_for("performance")]
    assert result.exit_code == 0, result.stderr
    assert len(asked) == 1 and "def median" in asked[0]  # judged the code step only
    assert "performance: skipped (docs only)" in result.stdout
    run_id = next(p.name for p in (repo / ".agent" / "runs").iterdir())
    report = json.loads((repo / ".agent" / "runs" / run_id / "report.json").read_text())
    first, second = (git(repo, "log", "-1", "--format=%(trailers)", step["commit"]) for step in report["steps"])
    assert "Performance: skipped (docs only)" in first and "Reviewer: approve" in first
    assert "Performance: approve" in second
    assert report["steps"][0]["verdicts"]["performance"] == {"verdict": "skipped", "reason": "docs only", "findings": []}
    skipped = events(repo, report, "critic_skipped")
    assert [(e["step"], e["critic"], e["reason"]) for e in skipped] == [("step-1", "performance", "docs only")]


def test_review_drops_unsupported_findings_and_carries_evidence_to_json_and_sarif(tmp_path, cli):
    repo = make_repo(tmp_path / "repo")
    (repo / "app.py").write_text("def total(xs):\n    return sum(xs)\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    (repo / "app.py").write_text("def total(xs):\n    return sum(xs) + 1\n")
    git(repo, "commit", "-qam", "feature")
    real = {"severity": "high", "message": "total() is off by one", "file": "app.py", "line": 2,
            "evidence": "     2 +     return sum(xs) + 1", "suggestion": "drop the + 1"}
    invented = {"severity": "critical", "message": "SQL injection", "file": "app.py", "line": 2,
                "evidence": "cursor.execute(query % name)", "suggestion": None}
    script = Script(defaults={name: verdict() for name in CRITICS})
    script.defaults["reviewer"] = verdict("request_changes", real)
    script.defaults["security"] = verdict("request_changes", invented)
    with ScriptedServer(script) as server:
        as_json = cli("review", "--repo", str(repo), "--base", "main", "--base-url", server.base_url,
                      "--format", "json", "--fail-on", "critical")
        as_sarif = cli("review", "--repo", str(repo), "--base", "main", "--base-url", server.base_url, "--format", "sarif")
    assert as_json.exit_code == 0, as_json.stderr  # the only critical finding was unsupported
    data = json.loads(as_json.stdout)
    assert [(f["critic"], f["evidence"]) for f in data["findings"]] == [("reviewer", real["evidence"])]
    assert data["verdicts"]["security"]["verdict"] == "approve"
    (unsupported,) = data["unsupported_findings"]
    assert unsupported["critic"] == "security" and unsupported["reason"] == "its evidence is not in app.py:2"
    assert "1 unsupported finding(s) dropped" in data["summary"]
    sarif = json.loads(as_sarif.stdout)
    jsonschema.validate(sarif, SARIF_SCHEMA)
    (located,) = sarif["runs"][0]["results"]
    assert located["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] == real["evidence"]


def test_review_skips_a_critic_no_changed_file_concerns(tmp_path, cli):
    repo = make_repo(tmp_path / "repo")
    (repo / "README.md").write_text("# Demo\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    (repo / "README.md").write_text("# Demo\n\nHow to use it.\n")
    git(repo, "commit", "-qam", "docs")
    with ScriptedServer(Script(defaults={name: verdict() for name in CRITICS})) as server:
        result = cli("review", "--repo", str(repo), "--base", "main", "--base-url", server.base_url, "--format", "json")
        asked = {name: len(server.requests_for(name)) for name in CRITICS}
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert asked == {"reviewer": 1, "qa": 1, "security": 1, "performance": 0}
    assert data["verdicts"]["performance"] == {"verdict": "skipped", "findings": 0, "parts": 0}
    assert "every critic that judged approves; skipped (nothing in its paths): performance" in data["summary"]
