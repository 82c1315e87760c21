"""Probes in the project's own language and layout, through `agent run` with the detected test command:
a Go test file and a mocha test (whose runner `setup_cmd` installed in the run's worktree, not in the
checkout) run on the scratch copy, and their failing ids are read per runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.testing import Script, ScriptedServer
from run_helpers import CRITICS, executor_turn, finish_turn, plan_turn, verdict, write_turn
from test_languages_e2e import LANGUAGES, _repo

GO_PROBE = """package wordstats

import "testing"

func TestProbeDoubleSpace(t *testing.T) {
\tif got := WordCount("a  b"); got != 2 {
\t\tt.Errorf("WordCount(%q) = %d, want 2", "a  b", got)
\t}
}
"""
JS_PROBE = """'use strict';

const assert = require('node:assert');
const { slugify } = require('../src/slug');

describe('probe', () => {
  it('lower-cases a capital', () => {
    assert.strictEqual(slugify('Hello'), 'hello');
  });
});
"""
PROBES = {"go_wordstats": ("wordstats_probe_test.go", GO_PROBE, ["-run", "TestProbe"], "TestProbeDoubleSpace"),
          "js_slug": ("test/probe.test.js", JS_PROBE, None, "probe > lower-cases a capital")}


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang.fixture in PROBES], ids=str)
def test_a_probe_in_the_projects_language_proves_a_defect(lang, tmp_path: Path, cli) -> None:
    repo = _repo(lang, tmp_path)
    path, content, args, failing_id = PROBES[lang.fixture]
    probe = executor_turn("run_probe", path=path, content=content, **({"args": args} if args else {}))
    script = Script(turns={"planner": [plan_turn("Add usage notes")],
                           "executor": [write_turn("USAGE.md", "How to use it.\n"), finish_turn("notes added")],
                           "qa": [probe, verdict()]},
                    defaults={name: verdict() for name in CRITICS})
    with ScriptedServer(script) as server:
        result = cli("run", "add usage notes", "--repo", str(repo), "--base-url", server.base_url, "--json", "--yes",
                     "--max-revisions", "0", timeout=600)
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    events = [json.loads(line) for line in (repo / ".agent/runs" / report["run_id"] / "events.jsonl").read_text().splitlines()]
    (probed,) = [e for e in events if e["type"] == "qa_probe"]
    assert probed["proven"] is True, probed["output"]
    assert any(f.startswith(failing_id) and path.split("/")[-1] in f for f in probed["failing"])
    qa = report["steps"][0]["verdicts"]["qa"]
    assert report["status"] == "blocked" and qa["verdict"] == "request_changes"
    assert any(path in json.dumps(f) for f in qa["findings"])
    assert not (Path(report["worktree"]) / path).exists()
