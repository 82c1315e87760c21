"""The user's `secret_globs` keep files out of everything that shows or records content, like the
built-in patterns: the critics' diff, the step commits, `agent show --diff`, the journal."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import ScriptedServer
from conftest import git, make_repo
from run_helpers import demo_script, executor_turn, finish_turn, plan_turn, run_args, scripted, write_turn

VAULT = "vault-entry-8c41f2d9e7"
# The test the model writes makes the file when it runs; its source spells neither the name nor the value.
PROBE = ("from pathlib import Path\n\n\n"
         "def test_writes_a_vault_file():\n"
         "    name, value = 'tokens' + '.vault', '-'.join(['vault', 'entry', '8c41f2d9e7'])\n"
         "    (Path(__file__).resolve().parent.parent / name).write_text(value + '\\n')\n")


def _repo_with_globs(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text('secret_globs = ["*.vault"]\n')
    git(repo, "add", ".agent.toml")
    git(repo, "commit", "-qm", "config")
    return repo


def test_a_file_matching_the_users_secret_globs_is_never_diffed_for_critics_committed_or_shown(tmp_path, cli):
    repo = _repo_with_globs(tmp_path)
    fix = demo_script().turns["executor"][1]
    turns = [fix, write_turn("tests/test_vault.py", PROBE), executor_turn("run_tests"), finish_turn()]
    with ScriptedServer(scripted(plan_turn("Fix median"), turns)) as server:
        result = cli(*run_args(server, repo, "fix the median"))
        critics_saw = json.dumps([r.body for r in server.requests_for("reviewer")])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    worktree = Path(report["worktree"])
    assert (worktree / "tokens.vault").read_text() == f"{VAULT}\n"  # the test run made it
    assert "tests/test_vault.py" in critics_saw and "tokens.vault" not in critics_saw and VAULT not in critics_saw
    committed = git(repo, "log", "--format=", "--name-only", f"{report['base_commit']}..{report['branch']}").split()
    assert sorted(committed) == ["calc/stats.py", "tests/test_vault.py"]
    shown = cli("show", report["run_id"], "--diff", "--repo", str(repo))
    assert shown.exit_code == 0 and "tests/test_vault.py" in shown.stdout and VAULT not in shown.stdout
    assert VAULT not in (repo / ".agent" / "runs" / report["run_id"] / "events.jsonl").read_text()

