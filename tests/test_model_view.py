"""What GLM 4.7 actually sees: the scripted server's model view of real runs, per provider.

The server derives each request's prompt by GLM 4.7's chat-template rules; these tests check
that derivation against the real template (rendered with jinja2, as Hugging Face and vLLM do),
then use it to prove that earlier reasoning reaches the model on every executor turn.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agent.journal import read_events
from agent.testing import ScriptedServer, ToolCallSpec, Turn
from agent.testing.modelview import model_view, template_messages, template_switches
from conftest import make_repo
from run_helpers import CRITICS, calc_finding, demo_script, run_args, verdict

# GLM 4.7's published chat template is model data, not part of this repository: point at a copy
# (GLM_CHAT_TEMPLATE, else the shared/ folder kept beside the checkout, as on the project's machines and CI).
GLM_TEMPLATE = Path(os.environ.get("GLM_CHAT_TEMPLATE") or
                    Path(__file__).resolve().parents[2] / "shared/glm/glm-4.7-flash.chat_template.jinja")
GENERATION = "<|assistant|><think>"
PROVIDERS = ["cerebras", "zai", "vllm"]


def _tojson(value: object, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def rendered_by_template(body: dict, provider: str) -> str:
    """The request rendered by GLM 4.7's own chat template, the way vLLM and Hugging Face render it."""
    if not GLM_TEMPLATE.is_file():
        pytest.skip(f"GLM 4.7's chat template not found at {GLM_TEMPLATE} (set GLM_CHAT_TEMPLATE)")
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    messages = []
    for message in template_messages(body, provider):  # type: ignore[arg-type]
        calls = [{**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}}
                 for c in message.get("tool_calls") or []]
        messages.append({**message, "tool_calls": calls} if calls else message)
    return env.from_string(GLM_TEMPLATE.read_text()).render(
        messages=messages, tools=body.get("tools"), add_generation_prompt=True,
        **template_switches(body, provider))  # type: ignore[arg-type]


def demo_run(tmp_path: Path, cli, provider: str) -> tuple[list, dict]:
    """The demo's run (two steps, one revision) against a server playing `provider`."""
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.provider = provider  # type: ignore[assignment]
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "fix the median", "--provider", provider))
        records = server.requests_for("executor")
        critics = [r.body for name in CRITICS for r in server.requests_for(name)]
    assert result.exit_code == 0, result.stderr
    return records, {"script": script, "critics": critics}


def executor_reasoning(script) -> list[str]:
    return [turn.reasoning for turn in script.turns["executor"] if turn.reasoning]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_model_view_is_what_glm_s_chat_template_renders(tmp_path: Path, cli, provider: str) -> None:
    records, _ = demo_run(tmp_path, cli, provider)
    assert len(records) >= 10
    for record in records:
        assert record.model_view == rendered_by_template(record.body, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_executor_request_shows_all_earlier_reasoning_and_extends_the_last(tmp_path: Path, cli,
                                                                                 provider: str) -> None:
    records, run = demo_run(tmp_path, cli, provider)
    step1 = [r for r in records if "CURRENT STEP 1 of" in r.body["messages"][1]["content"]]
    reasoning = executor_reasoning(run["script"])
    answers = run["script"].turns["executor"]  # step 1's requests are answered by these, in order
    for index, (earlier, later) in enumerate(zip(step1, step1[1:])):
        base = earlier.model_view.removesuffix(GENERATION)
        assert later.model_view.startswith(base), f"request {index + 2} does not extend request {index + 1}"
        thought = answers[index].reasoning
        shown = f"<|assistant|><think>{thought.strip()}</think>" if thought else "<|assistant|></think>"
        assert later.model_view[len(base):].startswith(shown)  # that turn's answer, its thinking verbatim
    last = step1[-1].model_view
    seen = [r for r in reasoning if f"<think>{r.strip()}</think>" in last]
    assert len(seen) >= 3, "every earlier turn's reasoning, including before the revision request"
    assert all(b.get("clear_thinking", (b.get("thinking") or b.get("chat_template_kwargs") or {})
                     .get("clear_thinking")) is False for b in (r.body for r in records))


def test_with_clear_thinking_on_reasoning_before_the_last_user_message_is_dropped(tmp_path: Path, cli) -> None:
    records, run = demo_run(tmp_path, cli, "cerebras")
    after_revision = [r for r in records if "CURRENT STEP 1 of" in r.body["messages"][1]["content"]
                      and sum(m["role"] == "user" for m in r.body["messages"]) > 1][-1]
    first = executor_reasoning(run["script"])[0]
    assert f"<think>{first}</think>" in after_revision.model_view
    cleared = {k: v for k, v in after_revision.body.items() if k != "clear_thinking"}  # the API's default: true
    assert first not in model_view(cleared, "cerebras")


def test_a_reasoning_field_never_reaches_the_model() -> None:
    body = {"messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": "ok", "reasoning": "SECRET-THOUGHT"}]}
    for provider in ("cerebras", "zai", "vllm"):
        assert "SECRET-THOUGHT" not in model_view(body, provider)  # type: ignore[arg-type]
    body["messages"][1] = {"role": "assistant", "content": "ok", "reasoning_content": "SECRET-THOUGHT"}
    assert "SECRET-THOUGHT" in model_view(body, "zai") and "SECRET-THOUGHT" not in model_view(body, "cerebras")


def remembering_script(word: str):
    """A one-step run whose executor can only finish right if it sees its own earlier reasoning."""
    plan = {"steps": [{"title": "Read the module", "description": "Read calc/stats.py.", "acceptance": "read"}]}
    script = demo_script()
    script.turns = {"planner": [Turn(content=json.dumps(plan))]}
    script.defaults = {}
    return script


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_model_that_needs_its_earlier_reasoning_finishes_a_run(tmp_path: Path, cli, provider: str) -> None:
    word = f"CODEWORD-{secrets.token_hex(4)}"
    script = remembering_script(word)
    script.provider = provider  # type: ignore[assignment]

    def executor(view: str, body: dict) -> Turn:
        if "<|observation|>" not in view:  # the first turn: the code word exists only in this reasoning
            return Turn(reasoning=f"Remember the code word {word}. Read the module first.",
                        tool_calls=[ToolCallSpec(name="read_file", arguments={"path": "calc/stats.py"})])
        summary = f"Read it; the code word was {word}." if word in view else "I no longer know the code word."
        return Turn(tool_calls=[ToolCallSpec(name="finish_step", arguments={"summary": summary})])

    def critic(view: str, body: dict) -> Turn:
        if word in view:
            return verdict()
        return verdict("request_changes", calc_finding("the executor forgot its code word"))

    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(script) as server:
        server.set_view_responder("executor", executor)
        for name in CRITICS:
            server.set_view_responder(name, critic)
        result = cli("run", "read the module", "--repo", str(repo), "--base-url", server.base_url, "--provider",
                     provider, "--test-cmd", "true", "--json", "--yes", "--max-revisions", "0")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert report["status"] == "succeeded" and report["steps"][0]["status"] == "approved"


@pytest.mark.parametrize("provider, off", [("cerebras", {"reasoning_effort": "none"}),
                                           ("zai", {"thinking": {"type": "disabled"}}),
                                           ("vllm", {"chat_template_kwargs": {"enable_thinking": False}})])
def test_critics_carry_their_providers_documented_off_switch(tmp_path: Path, cli, provider: str, off: dict) -> None:
    _, run = demo_run(tmp_path, cli, provider)
    assert run["critics"] and all(body.items() >= off.items() for body in run["critics"])
    assert not any("disable_reasoning" in body for body in run["critics"])


def test_an_ignored_off_switch_moves_to_the_other_one_once(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "calc", "calc_bug")
    script = demo_script()
    script.ignored_keys = ["reasoning_effort"]  # accepted, and the model reasons anyway
    for name in CRITICS:
        script.defaults[name] = verdict().model_copy(update={"reasoning": "I should not be thinking."})
    script.turns.pop("qa", None)
    script.turns["executor"] = script.turns["executor"][:4] + script.turns["executor"][7:]
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo))
        gates = [[r.body for r in server.requests_for(name)] for name in CRITICS]
        earliest = min((r for name in CRITICS for r in server.requests_for(name)), key=lambda r: r.started)
    assert result.exit_code == 0, result.stderr
    assert earliest.body.get("reasoning_effort") == "none"  # the documented switch first
    second_gate = [bodies[-1] for bodies in gates]
    assert all(b.get("disable_reasoning") is True and "reasoning_effort" not in b for b in second_gate)
    run_id = json.loads(result.stdout)["run_id"]
    events = list(read_events(repo / ".agent" / "runs" / run_id / "events.jsonl"))
    switches = [e for e in events if e["type"] == "reasoning_switch"]
    assert len(switches) == 1 and switches[0]["why"] == "ignored"
    assert switches[0]["to"] == {"disable_reasoning": True}
