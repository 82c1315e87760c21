"""Model faults survived inside a real run: each is injected by the scripted server."""

from __future__ import annotations

import json
import time

import pytest

from agent.history import DROPPED
from agent.testing import ErrorSpec, ScriptedServer, ToolCallSpec, Turn
from conftest import make_repo
from run_helpers import CRITICS, demo_script, executor_requests, run_args

CONTEXT_ERROR = ErrorSpec(status=400, type="invalid_request_error", code="context_length_exceeded",
                          message="Please reduce the length of the messages or completion. Current length is 140000 while limit is 131072")
LEAK = '<tool_call>read_file<arg_key>path</arg_key><arg_value>calc/stats.py</arg_value></tool_call>'


def _faulty_script():
    script = demo_script()
    good = script.turns["executor"]
    faults = [
        Turn(error=ErrorSpec(status=429, type="too_many_requests_error", message="slow down", headers={"retry-after": "0"})),
        Turn(error=ErrorSpec(status=500, message="boom")),
        Turn(error=ErrorSpec(status=503, type="service_unavailable", message="busy")),
        good[0],
        Turn(tool_calls=[ToolCallSpec(name="read_file", arguments='{"path": "calc/stats.py"')]),  # invalid JSON
        Turn(tool_calls=[ToolCallSpec(name="delete_repository", arguments={})]),  # unknown tool
        Turn(tool_calls=[ToolCallSpec(name="read_file", arguments={"start_line": 1})]),  # missing argument
        Turn(content=LEAK),  # GLM's tool-call text in content
        Turn(content="I will now apply the fix to median by editing", cut_after_chunks=2),  # dropped mid-stream
        Turn(reasoning="thinking " * 50, content="", finish_reason="length"),  # reasoning ate the budget
        *good[1:4],
        Turn(error=CONTEXT_ERROR),  # after the revision request: the history must shrink
        *good[4:],
    ]
    script.turns["executor"] = faults
    return script


def test_a_run_survives_every_model_fault(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(_faulty_script()) as server:
        result = cli(*run_args(server, repo))
        bodies = executor_requests(server)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    step1 = [b for b in bodies if "CURRENT STEP 1 of" in b["messages"][1]["content"]]
    before_shrink = [b for b in step1 if not any(m.get("content") == DROPPED for m in b["messages"])]
    tool_results = [m["content"] for m in before_shrink[-1]["messages"] if m["role"] == "tool"]
    joined = "\n".join(tool_results)
    assert "Unknown tool 'delete_repository'" in joined  # each bad call is answered, and the loop goes on
    assert "read_file: the arguments are not valid JSON" in joined
    assert "read_file: missing required argument 'path'" in joined
    assert len(before_shrink) < len(step1), "after the context-length error the executor resent a shrunk history"
    read_results = [r for r in tool_results if "def median" in r]
    assert read_results, "the leaked tool-call text was run as a read_file call"
    length_retries = [b["max_completion_tokens"] for b in bodies]
    assert max(length_retries) == 2 * min(length_retries)  # the empty-length answer was retried with more room


def test_a_refused_key_is_one_line_and_exit_2(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.turns["planner"] = [Turn(error=ErrorSpec(status=401, type="invalid_api_key", message="Wrong API Key"))]
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("agent:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["status"] == "error"


def test_the_executor_shrinks_its_history_before_it_would_exceed_the_context_budget(tmp_path, cli):
    from agent.llm.tokens import estimate_tokens

    repo = make_repo(tmp_path / "calc", "calc_bug")
    critics = "".join(f"[roles.{name}]\nmax_completion_tokens = 3000\n" for name in CRITICS)
    (repo / ".agent.toml").write_text("context_budget = 4096\n[roles.executor]\nmax_completion_tokens = 1400\n"
                                      "[roles.planner]\nmax_completion_tokens = 2000\n" + critics)
    script = demo_script()
    script.context_limit = 6000  # the server refuses longer requests with Cerebras' context-length 400
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo))
        bodies = executor_requests(server)
        statuses = {r.status for r in server.requests}
    assert result.exit_code == 0, result.stderr
    assert statuses == {200}  # nothing was refused: the history fit before it was sent
    assert any(m.get("content") == DROPPED for b in bodies for m in b["messages"])
    assert all(estimate_tokens(b["messages"], b["tools"]) <= 4096 - 1400 for b in bodies)


# Deadlines small enough for a test: 0.5 s to the first event or between events, and a total of
# 0.5 s + budget / 100,000 tokens/s; two attempts, then the run stops.
DEADLINES = ("first_token_timeout_s = 0.5\nidle_timeout_s = 0.5\nmin_tokens_per_s = 100000\n"
             "request_attempts = 2\n")


@pytest.mark.parametrize("hang, reason", [
    ("silent", "timed out"),  # accepts the request, never answers
    ("keepalive", "no answer within 0.5s"),  # keep-alive comments forever, no event
    ("reasoning", "s in all (its completion budget"),  # reasoning forever: only the total deadline stops it
])
def test_a_model_request_that_never_ends_is_retried_then_exits_3(tmp_path, cli, hang: str, reason: str) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".agent.toml").write_text(DEADLINES)
    script = demo_script()
    script.turns["planner"] = [Turn(hang=hang)] * 2  # type: ignore[arg-type]
    with ScriptedServer(script) as server:
        started = time.monotonic()
        result = cli(*run_args(server, repo))
        elapsed = time.monotonic() - started
        attempts = len(server.requests_for("planner"))
    assert result.exit_code == 3, result.stderr
    assert attempts == 2 and elapsed < 60
    errors = [line for line in result.stderr.splitlines() if line.startswith("agent:")]
    assert len(errors) == 1 and "failed after 2 attempts" in errors[0] and reason in errors[0].lower(), errors
    assert json.loads(result.stdout)["status"] == "error" and "Traceback" not in result.stderr
