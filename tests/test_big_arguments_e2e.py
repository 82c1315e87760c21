"""One huge tool call never kills a run: the history repeats a bounded stand-in, the run's folder
keeps the whole arguments."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import ScriptedServer
from conftest import git, make_repo
from gitsafe_helpers import call, one_step, run_one

CONTEXT_TOKENS = 131_072  # GLM 4.7's window on Cerebras


def test_a_2_mb_write_file_does_not_push_the_next_request_past_the_context(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    content = "".join(f"row {i:07d}: {'x' * 40}\n" for i in range(40_000))  # ~2 MB
    script = one_step(call("write_file", path="data/big.txt", content=content), call("list_files", path="data"))
    script.context_limit = CONTEXT_TOKENS
    with ScriptedServer(script) as server:
        result = cli(*run_one(server, repo))
        executor_bodies = [r.body for r in server.requests_for("executor")]
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert (Path(report["worktree"]) / "data/big.txt").read_text() == content  # the call ran whole
    assert git(repo, "show", f"{report['branch']}:data/big.txt") == content
    later = executor_bodies[1]["messages"]
    written = json.loads(next(m for m in later if m.get("tool_calls"))["tool_calls"][0]["function"]["arguments"])
    assert written["path"] == "data/big.txt" and "not repeated here" in written["content"]
    assert all(len(json.dumps(body)) < 100_000 for body in executor_bodies)
    kept = list((repo / ".agent" / "runs" / report["run_id"] / "arguments").iterdir())
    assert len(kept) == 1 and json.loads(kept[0].read_text())["content"] == content
    assert kept[0].name in written["content"]
