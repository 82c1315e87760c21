"""What the product prints reads as English: counts agree with their nouns, notes are not stacked."""

from __future__ import annotations

from agent.testing import ScriptedServer
from conftest import make_repo
from run_helpers import TEST_CMD, finish_turn, plan_turn, scripted, write_turn


def test_one_step_is_one_step_and_a_dry_run_patch_says_so_once(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = scripted(plan_turn("Add a changelog"), [write_turn("CHANGES.md", "- fixed\n"), finish_turn()])
    with ScriptedServer(script) as server:
        run = cli("run", "add a changelog", "--repo", str(repo), "--base-url", server.base_url,
                  "--test-cmd", TEST_CMD, "--yes")
    assert run.exit_code == 1, run.stderr  # the fixture's tests still fail
    assert "plan: 1 step\n" in run.stdout and "1 steps" not in run.stdout
    (tmp_path / "p.diff").write_text("--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# calc\n+# Calc\n")
    dry = cli("apply", str(tmp_path / "p.diff"), "--repo", str(repo), "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == "Patch (unified diff) applies cleanly: 1 file (dry run, nothing written)."
