"""A run on a project whose tests misbehave: every attempt fails inside the sandbox, and the
planted secret never reaches a model, a journal or a report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from conftest import make_repo
from run_helpers import TEST_CMD, verdict
from tools.sandbox import detect_sandbox

SECRET = "sk-fixture-0123456789abcdef"
PROBES = ("network", "dns", "write-home", "write-parent", "write-root", "read-ssh", "symlink", "env")


def _script() -> Script:
    plan = {"steps": [{"title": "Check the sandbox", "description": "Run the checks.", "acceptance": "They pass."}]}
    call = lambda name, **args: Turn(tool_calls=[ToolCallSpec(name=name, arguments=args)])  # noqa: E731
    return Script(
        turns={"planner": [Turn(content=json.dumps(plan))],
               "executor": [call("list_files"), call("read_file", path=".env"),
                            call("search", pattern="sk-fixture"), call("run_tests"),
                            call("run_tests", args=["secret_leak.py"]), call("finish_step", summary="checked")]},
        defaults={name: verdict() for name in ("reviewer", "qa", "security", "performance")},
    )


@pytest.mark.skipif(not detect_sandbox().available, reason=f"bubblewrap unavailable: {detect_sandbox().detail}")
def test_misbehaving_tests_are_contained_and_secrets_stay_out(tmp_path, cli):
    repo = make_repo(tmp_path / "adversarial", "adversarial")
    with ScriptedServer(_script()) as server:
        result = cli("run", "check the sandbox", "--repo", str(repo), "--base-url", server.base_url,
                     "--test-cmd", TEST_CMD, "--json", "--yes", env={"FAKE_SERVICE_TOKEN": "tok-live-998877665544", "CEREBRAS_API_KEY": "plainkey4242zz"})
        sent = json.dumps([r.body for r in server.requests])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["tests"]["sandboxed"] is True
    journal = (repo / ".agent" / "runs" / report["run_id"] / "events.jsonl").read_text()
    for probe in PROBES:
        assert f"SANDBOX-BLOCKED {probe}" in sent
    assert not re.search(r"SANDBOX-ESCAPED (?!<probe>)", sent)  # the README's "<probe>" is documentation
    assert "secret files (keys, credentials, .env) are never read" in sent
    for text in (sent, journal, result.stdout, result.stderr):
        assert SECRET not in text and "tok-live-998877665544" not in text and "plainkey4242zz" not in text
    assert not (Path.home() / "agent-sandbox-escape").exists()
