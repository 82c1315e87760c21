"""Recovering GLM's template text leaked into content: pure functions on literal strings."""

from __future__ import annotations

import json

from agent.llm.leak import clean, recover_tool_calls, split_inline_think, strip_template_tokens
from agent.llm.types import ToolCall


def test_one_leaked_call_with_a_string_argument() -> None:
    content, calls = recover_tool_calls(
        "Let me look.<tool_call>read_file<arg_key>path</arg_key><arg_value>a.py</arg_value></tool_call>")
    assert content == "Let me look."
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("read_file", {"path": "a.py"})]


def test_a_call_without_arguments() -> None:
    content, calls = recover_tool_calls("<tool_call>list_files</tool_call>")
    assert content == ""
    assert calls == [ToolCall(id="call_leaked_0", name="list_files", arguments="{}")]


def test_several_calls_back_to_back_with_typed_arguments() -> None:
    text = ("<tool_call>read_file\n<arg_key>path</arg_key>\n<arg_value>src/a.py</arg_value>\n"
            "<arg_key>start_line</arg_key><arg_value>10</arg_value></tool_call>"
            "<tool_call>run_tests<arg_key>args</arg_key><arg_value>[\"-k\", \"calc\"]</arg_value></tool_call>"
            "<tool_call>write_file<arg_key>path</arg_key><arg_value>true</arg_value>"
            "<arg_key>content</arg_key><arg_value>x = {\n}</arg_value></tool_call>")
    content, calls = recover_tool_calls(text)
    assert content == ""
    assert [c.name for c in calls] == ["read_file", "run_tests", "write_file"]
    assert json.loads(calls[0].arguments) == {"path": "src/a.py", "start_line": 10}
    assert json.loads(calls[1].arguments) == {"args": ["-k", "calc"]}
    # JSON that parses to a non-string is typed; raw text stays raw (even when it looks like code).
    assert json.loads(calls[2].arguments) == {"path": True, "content": "x = {\n}"}
    assert [c.id for c in calls] == ["call_leaked_0", "call_leaked_1", "call_leaked_2"]


def test_quoted_string_argument_is_kept_as_raw_text() -> None:
    _, calls = recover_tool_calls('<tool_call>search<arg_key>pattern</arg_key><arg_value>"def f"</arg_value></tool_call>')
    assert json.loads(calls[0].arguments) == {"pattern": '"def f"'}


def test_arguments_are_reserialised_deterministically() -> None:
    text = "<tool_call>read_file<arg_key>path</arg_key><arg_value>é.py</arg_value></tool_call>"
    assert recover_tool_calls(text)[1][0].arguments == '{"path": "é.py"}'


def test_text_without_tool_calls_is_untouched() -> None:
    assert recover_tool_calls("nothing <b>here</b>") == ("nothing <b>here</b>", [])


def test_template_tokens_are_stripped() -> None:
    assert strip_template_tokens("<think></think>Done.<|observation|>") == "Done."
    assert strip_template_tokens("<tool_response>ok</tool_response> /nothink") == "ok"
    assert strip_template_tokens("plain text ") == "plain text "


def test_inline_think_becomes_reasoning() -> None:
    assert split_inline_think("<think>\nadd the numbers\n</think>\n\n42") == ("add the numbers", "42")
    assert split_inline_think("add them</think>42") == ("add them", "42")
    assert split_inline_think("no thinking here") == (None, "no thinking here")


def test_clean_combines_every_recovery() -> None:
    cleaned = clean("<think>look first</think><tool_call>list_files</tool_call><|observation|>", None, [])
    assert cleaned.reasoning == "look first"
    assert [c.name for c in cleaned.tool_calls] == ["list_files"]
    assert cleaned.content == ""


def test_parsed_tool_calls_from_the_server_win() -> None:
    parsed = [ToolCall("call_1", "read_file", '{"path": "b.py"}')]
    cleaned = clean("<tool_call>list_files</tool_call>", "r", parsed)
    assert cleaned.tool_calls == parsed
    assert cleaned.reasoning == "r"
