"""A search never holds the run: catastrophic patterns stop at the search's time budget."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import ScriptedServer
from conftest import git, make_repo
from gitsafe_helpers import call, one_step, run_one, tool_results


def test_a_catastrophic_regex_returns_a_result_the_model_can_read(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / "data.txt").write_text("a" * 60 + "b\n")
    git(repo, "add", "data.txt")
    git(repo, "commit", "-qm", "data")
    script = one_step(call("search", pattern="(a+)+$"), call("search", pattern="(a|aa)+$"),
                      call("search", pattern="def median"))
    with ScriptedServer(script) as server:
        # Without a bound the run never ends; with it, 3 s of matching (more by the clock on a busy machine).
        result = cli(*run_one(server, repo), timeout=240)
        nested, alternating, plain = tool_results(server)[:3]
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    assert nested == "No matches for '(a+)+$'."
    assert "search stopped after 3 s" in alternating and "simplify the pattern" in alternating
    assert plain.startswith("calc/stats.py:")  # the next search works as usual
