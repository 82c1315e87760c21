"""Figures for `agent run` (printed, not asserted).

1. Harness time per model call in the demo's two-step run against a zero-delay scripted server,
   excluding test execution and the server's own time (target: under 15 ms median).
2. Gate time divided by the slowest critic, with every critic request delayed 300 ms (target: at
   most 1.2): with critics answering at once, and with every critic reading a file with its context
   tools before it answers (the slowest critic then takes three requests and two tool calls).
3. Prefix reuse: share of executor request bytes that repeat the previous request of the same
   step, byte for byte (target: at least 0.95).
4. Model-view prefix stability: share of executor requests whose model view (the prompt GLM 4.7
   is given, as the scripted server derives it) starts with the previous request's view plus that
   turn's answer, its reasoning included (target: all of them); and the bytes of earlier reasoning
   the model sees again per request.
5. Critic cost per gate on the demo trajectory: requests and prompt tokens of the critics per gate,
   without context tools (critic_tool_calls = 0), with them offered but unused, and with every
   critic reading one file before its verdict.

Usage: python bench/run_overhead.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agent.commands.demo import DEMO_TASK, make_demo_repo
from agent.commands.run import create_session
from agent.journal import read_events
from agent.orchestrator import execute
from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from agent.testing.server import RecordedRequest
from critics.registry import BUILTIN_CRITICS

SCRIPT = Path(__file__).resolve().parents[1] / "agent" / "testing" / "scripts" / "demo.json"
CRITICS = BUILTIN_CRITICS
GENERATION = "<|assistant|><think>"  # the view's last words: the model's turn to answer
THOUGHT = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def one_run(script: Script, **config: object) -> tuple[list[dict], list[RecordedRequest], float]:
    """Run the demo task in-process; return the journal, the server's records, and the clock offset."""
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(script) as server:
        repo = make_demo_repo(Path(tmp))
        flags = {"base_url": server.base_url, "test_cmd": "true", **config}  # a test run that costs next to nothing
        offset = time.time() - time.monotonic()
        session = create_session(DEMO_TASK, repo, flags)
        try:
            status = execute(session)
        finally:
            session.journal.close()
            session.client.close()
        if status != "succeeded":
            sys.exit(f"bench: the scripted run ended {status}")
        return list(read_events(session.journal.path)), list(server.requests), offset


def harness_ms(events: list[dict], requests: list[RecordedRequest], offset: float) -> list[float]:
    """Per model call: the time since the previous call ended, less the test runs in between."""
    tests = [(e["ts"], e["data"]["duration_s"]) for e in events
             if e["type"] == "tool_call" and e["name"] == "run_tests" and e.get("data")]
    calls = sorted(requests, key=lambda r: r.started)
    gaps, last_end = [], None
    for r in calls:
        start, end = r.started + offset, r.ended + offset
        if last_end is not None:
            in_gap = sum(d for ts, d in tests if last_end <= ts <= start)
            gaps.append(max(0.0, start - last_end - in_gap) * 1000)
        last_end = end if last_end is None else max(last_end, end)
    return gaps


def gate_groups(events: list[dict], requests: list[RecordedRequest], offset: float) -> list[list[RecordedRequest]]:
    """The critic requests of each gate (those made after the previous gate's verdict), in gate order."""
    critic_calls = sorted((r for r in requests if r.role in CRITICS), key=lambda r: r.started)
    gates = [e["ts"] for e in events if e["type"] == "gate"]
    groups, previous = [], float("-inf")
    for gate_ts in gates:
        groups.append([r for r in critic_calls if previous < r.started + offset <= gate_ts])
        previous = gate_ts
    return groups


def gate_ratios(events: list[dict], requests: list[RecordedRequest], offset: float) -> list[float]:
    """For each gate: from its first critic request to the gate's verdict, over the slowest critic
    (from a critic's first request to the end of its last: its tool turns included)."""
    gates = [e["ts"] for e in events if e["type"] == "gate"]
    ratios = []
    for gate_ts, group in zip(gates, gate_groups(events, requests, offset)):
        spans = [max(r.ended for r in mine) - min(r.started for r in mine)
                 for mine in ([r for r in group if r.role == role] for role in CRITICS) if mine]
        ratios.append((gate_ts - (group[0].started + offset)) / max(spans))
    return ratios


def reading_critics(script: Script, gates: int = 3) -> Script:
    """The demo script with every critic reading calc/stats.py before each of its verdicts."""
    read = Turn(tool_calls=[ToolCallSpec(name="read_file", arguments={"path": "calc/stats.py"})])
    for role in CRITICS:
        verdicts = list(script.turns.get(role, []))
        verdicts += [script.defaults[role]] * (gates - len(verdicts))
        script.turns[role] = [turn for verdict in verdicts for turn in (read, verdict)]
    return script


def critic_cost(events: list[dict], requests: list[RecordedRequest], offset: float) -> tuple[float, float]:
    """Critic requests and prompt tokens per gate (tokens as the server counted them)."""
    groups = gate_groups(events, requests, offset)
    calls = [e for e in events if e["type"] == "model_call" and e.get("role") in CRITICS]
    tokens = sum((e.get("usage") or {}).get("prompt_tokens", 0) for e in calls)
    return sum(map(len, groups)) / len(groups), tokens / len(groups)


def slowed(script: Script, delay_s: float = 0.3) -> Script:
    """Every critic answer (queued or default) delayed by `delay_s`."""
    script.defaults = {k: v.model_copy(update={"delay_s": delay_s}) for k, v in script.defaults.items()}
    for role in CRITICS:
        script.turns[role] = [t.model_copy(update={"delay_s": delay_s}) for t in script.turns.get(role, [])]
    return script


def prefix_reuse(requests: list[RecordedRequest]) -> tuple[float, float]:
    """Bytes of each executor request that repeat the previous request of its step, over all bytes;
    and the share of requests that repeat the whole previous request (all but its closing brackets)."""
    repeated = total = whole = pairs = 0
    previous: dict[str, str] = {}
    for r in (r for r in requests if r.role == "executor"):
        messages = r.body["messages"]
        # What the model is prompted with: the tool schemas (rendered ahead of the chat), then the messages.
        text = json.dumps({"tools": r.body.get("tools"), "messages": messages}, ensure_ascii=False)
        step = messages[1]["content"]
        before = previous.get(step)
        if before is not None:
            common = 0
            for a, b in zip(before, text):
                if a != b:
                    break
                common += 1
            repeated += common
            total += len(text)
            pairs += 1
            whole += common >= len(before) - 2  # only the closing "]}" of the previous request differs
        previous[step] = text
    return (repeated / total if total else 0.0), (whole / pairs if pairs else 0.0)


def view_stability(events: list[dict], requests: list[RecordedRequest]) -> tuple[int, int, list[int]]:
    """(requests whose view extends the previous one by exactly that turn's answer, requests compared,
    bytes of earlier reasoning in each executor request's view)."""
    answers = [e for e in events if e["type"] == "model_call" and e["role"] == "executor"]
    calls = [r for r in requests if r.role == "executor"]
    extended = compared = 0
    replayed: list[int] = []
    previous: dict[str, tuple[str, dict]] = {}
    for request, answer in zip(calls, answers):
        view = request.model_view or ""
        replayed.append(sum(len(t.encode()) for t in THOUGHT.findall(view.removesuffix(GENERATION))))
        step = request.body["messages"][1]["content"]
        if step in previous:
            before, said = previous[step]
            base = before.removesuffix(GENERATION)
            thought = f"<think>{said['reasoning'].strip()}</think>" if said.get("reasoning") else "</think>"
            compared += 1
            extended += view.startswith(base + "<|assistant|>" + thought + (said.get("content") or "").strip())
        previous[step] = (view, answer)
    return extended, compared, replayed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    overhead: list[float] = []
    reuse: list[float] = []
    whole: list[float] = []
    extended = compared = 0
    replayed: list[int] = []
    for _ in range(runs):
        events, requests, offset = one_run(Script.load(SCRIPT))
        overhead += harness_ms(events, requests, offset)
        share, complete = prefix_reuse(requests)
        reuse.append(share)
        whole.append(complete)
        stable, pairs, sizes = view_stability(events, requests)
        extended, compared, replayed = extended + stable, compared + pairs, replayed + sizes
    ratios = gate_ratios(*one_run(slowed(Script.load(SCRIPT))))
    with_tools = gate_ratios(*one_run(slowed(reading_critics(Script.load(SCRIPT)))))
    costs = {"no context tools": critic_cost(*one_run(Script.load(SCRIPT), critic_tool_calls=0)),
             "tools offered, unused": critic_cost(*one_run(Script.load(SCRIPT))),
             "each critic reads a file": critic_cost(*one_run(reading_critics(Script.load(SCRIPT))))}
    print(f"harness time per model call: median {statistics.median(overhead):.1f} ms, "
          f"mean {statistics.mean(overhead):.1f} ms, p90 {sorted(overhead)[int(len(overhead) * 0.9)]:.1f} ms "
          f"over {len(overhead)} calls in {runs} runs (target: median < 15 ms)")
    print(f"gate time / slowest critic (300 ms each): {', '.join(f'{r:.2f}' for r in ratios)} (target: <= 1.2)")
    print(f"gate time / slowest critic, every critic reading a file first (300 ms per request): "
          f"{', '.join(f'{r:.2f}' for r in with_tools)} (target: <= 1.2)")
    for name, (requests_per_gate, tokens_per_gate) in costs.items():
        print(f"critics per gate, {name}: {requests_per_gate:.1f} requests, {tokens_per_gate:,.0f} prompt tokens")
    print(f"executor prefix reuse: {statistics.mean(reuse):.3f} of request bytes repeat the previous request "
          f"(target: >= 0.95); {statistics.mean(whole):.0%} of requests repeat the whole previous request")
    print(f"model-view prefix stability: {extended}/{compared} executor requests ({extended / max(compared, 1):.0%}) "
          f"show the previous request's view plus that turn's answer and reasoning (target: all)")
    print(f"reasoning replayed per executor request: mean {statistics.mean(replayed):.0f} bytes, "
          f"max {max(replayed)} bytes, over {len(replayed)} requests (what the model sees again of its thinking)")


if __name__ == "__main__":
    main()
