"""Figures for turn-level thinking (printed, not asserted).

The same scripted four-step trajectory on the demo fixture is run twice against the scripted
server, once with the executor's `reasoning = "on"` and once with `"auto"`: three steps the planner
labels simple (one of them with a failing test run, one with a revision the critics ask for) and one
complex. Every executor answer carries ~250 tokens of reasoning, which the server drops when the
request switches reasoning off, and each answer streams at a scripted 1,000 tokens/s.

Printed:
1. the share of executor requests sent with reasoning off under "auto";
2. the executor's reasoning tokens under "on" and "auto", and the share saved;
3. the executor's generation time at 1,000 tokens/s (completion tokens / 1,000), and the model
   wait the server measured (first byte to last, per executor request), under both.

Usage: python bench/turn_reasoning.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from agent.commands.demo import make_demo_repo
from agent.commands.run import create_session
from agent.journal import read_events
from agent.orchestrator import execute
from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from agent.testing.wire import estimate_tokens

TOKENS_PER_S = 1000.0
CRITICS = ("reviewer", "qa", "security", "performance")
TASK = "Fix the median, test empty input, document the design, and note the change"
FIX = ("calc/stats.py\n<<<<<<< SEARCH\n    return (ordered[mid] + ordered[mid + 1]) / 2\n=======\n"
       "    return (ordered[mid - 1] + ordered[mid]) / 2\n>>>>>>> REPLACE\n")
EMPTY_TEST = ("import pytest\n\nfrom calc import median\n\n\ndef test_median_rejects_empty():\n"
              "    with pytest.raises(ValueError):\n        median([])\n")


def thought(subject: str) -> str:
    """About 250 tokens of reasoning on `subject`."""
    sentence = f"Considering {subject}: check what the code does, what the tests expect, and the smallest change. "
    return sentence * 10


def turn(tool: str, subject: str, **arguments: object) -> Turn:
    answer = Turn(reasoning=thought(subject), content=f"Next: {tool}.",
                  tool_calls=[ToolCallSpec(name=tool, arguments=arguments)])
    return paced(answer)


def paced(answer: Turn) -> Turn:
    """The answer streamed at TOKENS_PER_S: each chunk (a word) waits its share of the whole."""
    text = (answer.reasoning or "") + answer.content + "".join(c.arguments_text() for c in answer.tool_calls)
    words = max(len(text.split()), 1)
    return answer.model_copy(update={"chunk_delay_s": estimate_tokens(text) / TOKENS_PER_S / words})


def script() -> Script:
    steps = [("Fix the even-length median", "simple"), ("Test that median rejects empty input", "simple"),
             ("Write down the design of the statistics module", "complex"), ("Note the change", "simple")]
    plan = {"difficulty": "moderate", "steps": [
        {"title": t, "description": f"{t}.", "acceptance": "the tests pass", "complexity": c} for t, c in steps]}
    executor = [
        turn("read_file", "the median", path="calc/stats.py"),
        turn("run_tests", "the failing test"),  # fails: the next turn reasons under "auto"
        turn("write_patch", "the index pair", patch=FIX),
        turn("run_tests", "the fix"),
        turn("finish_step", "step 1", summary="Fixed the pair."),
        turn("write_file", "empty input", path="tests/test_empty.py", content=EMPTY_TEST),
        turn("finish_step", "step 2", summary="Added the test."),
        turn("read_file", "the critic's finding", path="tests/test_empty.py"),  # after the revision request
        turn("finish_step", "step 2 again", summary="The test covers it."),
        turn("read_file", "the module's shape", path="calc/stats.py"),
        turn("write_file", "the design", path="docs/design.md", content="# Design\n\nOne function per statistic.\n"),
        turn("finish_step", "step 3", summary="Documented."),
        turn("write_file", "the changelog", path="CHANGELOG.md", content="- median fixed\n"),
        turn("finish_step", "step 4", summary="Noted."),
    ]
    approve = Turn(content=json.dumps({"verdict": "approve", "findings": []}))
    finding = {"severity": "medium", "message": "name the empty-input case in the test's docstring", "file": None,
               "line": None, "suggestion": None}
    qa = [approve, Turn(content=json.dumps({"verdict": "request_changes", "findings": [finding]}))]
    return Script(turns={"planner": [Turn(content=json.dumps(plan))], "executor": executor, "qa": qa},
                  defaults={name: approve for name in CRITICS})


def one_run(mode: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(script()) as server:
        repo = make_demo_repo(Path(tmp))
        (repo / ".agent.toml").write_text(f'[roles.executor]\nreasoning = "{mode}"\n')
        session = create_session(TASK, repo, {"base_url": server.base_url, "test_cmd": "python -m pytest -q -p no:cacheprovider"})
        try:
            status = execute(session)
        finally:
            session.journal.close()
            session.client.close()
        if status != "succeeded":
            sys.exit(f"bench: the {mode} run ended {status}")
        calls = [e for e in read_events(session.journal.path) if e["type"] == "model_call" and e["role"] == "executor"]
        waits = [r.ended - r.started for r in server.requests_for("executor")]
    return {"requests": len(calls), "off": sum(c["reasoning_setting"] == "off" for c in calls),
            "reasoning_tokens": sum(c["usage"]["reasoning_tokens"] for c in calls),
            "completion_tokens": sum(c["usage"]["completion_tokens"] for c in calls), "wait_s": sum(waits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    results = {mode: [one_run(mode) for _ in range(runs)] for mode in ("on", "auto")}
    on, auto = results["on"][0], results["auto"][0]
    print(f"executor requests per run: {auto['requests']}; with reasoning off under auto: {auto['off']} "
          f"({auto['off'] / auto['requests']:.0%}); under on: {on['off']}")
    saved = 1 - auto["reasoning_tokens"] / on["reasoning_tokens"]
    print(f"executor reasoning tokens: on {on['reasoning_tokens']:,}, auto {auto['reasoning_tokens']:,} "
          f"({saved:.0%} saved)")
    gen_on, gen_auto = on["completion_tokens"] / TOKENS_PER_S, auto["completion_tokens"] / TOKENS_PER_S
    print(f"executor generation at {TOKENS_PER_S:,.0f} tokens/s: on {gen_on:.2f} s, auto {gen_auto:.2f} s "
          f"({gen_on - gen_auto:.2f} s, {1 - gen_auto / gen_on:.0%} saved)")
    wait_on = statistics.median(r["wait_s"] for r in results["on"])
    wait_auto = statistics.median(r["wait_s"] for r in results["auto"])
    print(f"executor model wait measured (median of {runs} runs each): on {wait_on:.2f} s, auto {wait_auto:.2f} s "
          f"({wait_on - wait_auto:.2f} s, {1 - wait_auto / wait_on:.0%} saved)")


if __name__ == "__main__":
    main()
