"""The executor's tools on real files in throwaway git repositories, called the way the loop calls them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import jsonschema
import pytest
from conftest import git, make_repo

from agent.llm.types import ToolCall
from tools.registry import ToolContext, ToolResult, dispatch, tool_schemas
from tools.trim import trim_middle

APP = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(APP)
    (root / "README.md").write_text("# Demo\nadd and sub\n")
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / ".env").write_text("API_KEY=add-secret\n")
    (root / "keys").mkdir()
    (root / "keys" / "id_rsa").write_text("def add secret\n")
    commit_all(root)
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("def add(): pass\n")
    (root / "debug.log").write_text("add\n")
    (root / "notes.txt").write_text("untracked but visible: add\n")
    return root


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "files")


def call(ctx: ToolContext, name: str, **arguments: object) -> ToolResult:
    return dispatch(ToolCall(id="call_1", name=name, arguments=json.dumps(arguments)), ctx)


def ctx_for(root: Path, **overrides: object) -> ToolContext:
    return ToolContext(root=root, **overrides)  # type: ignore[arg-type]


# --- read_file ------------------------------------------------------------------------------------

def test_read_file_numbers_lines(repo: Path) -> None:
    result = call(ctx_for(repo), "read_file", path="src/app.py")
    assert not result.is_error
    assert result.text == ("src/app.py: lines 1\u20136 of 6\n"
                           "1\tdef add(a, b):\n2\t    return a + b\n3\t\n4\t\n5\tdef sub(a, b):\n6\t    return a - b")


def test_read_file_comes_in_windows(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    (root / "big.txt").write_text("".join(f"line {n}\n" for n in range(1, 1001)))
    ctx = ctx_for(root)
    first = call(ctx, "read_file", path="big.txt")
    assert first.text.splitlines()[0] == "big.txt: lines 1\u2013400 of 1000"
    assert first.text.splitlines()[-1] == "[lines 1\u2013400 of 1000; call again with start_line=401 for more]"
    assert first.text.splitlines()[400] == "400\tline 400"
    second = call(ctx, "read_file", path="big.txt", start_line=401)
    assert second.text.splitlines()[0] == "big.txt: lines 401\u2013800 of 1000"
    last = call(ctx, "read_file", path="big.txt", start_line=950)
    assert last.text.splitlines()[0] == "big.txt: lines 950\u20131000 of 1000"
    assert last.text.splitlines()[-1] == "1000\tline 1000"
    span = call(ctx, "read_file", path="big.txt", start_line=10, end_line=12)
    assert span.text == "big.txt: lines 10\u201312 of 1000\n10\tline 10\n11\tline 11\n12\tline 12"
    past = call(ctx, "read_file", path="big.txt", start_line=1001)
    assert past.is_error and "past the end of the file (1000 lines)" in past.text


def test_read_file_window_is_bounded_by_size(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    (root / "wide.txt").write_text(("x" * 500 + "\n") * 300)
    result = call(ctx_for(root), "read_file", path="wide.txt")
    assert len(result.text) <= 40_500
    assert "lines 1\u201378 of 300" in result.text.splitlines()[0]
    assert result.text.endswith("call again with start_line=79 for more]")


def test_read_file_refuses_binary_non_utf8_and_directories(repo: Path) -> None:
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (repo / "latin.txt").write_bytes(b"caf\xe9\nline two\n")
    ctx = ctx_for(repo)
    binary = call(ctx, "read_file", path="logo.png")
    assert binary.is_error and binary.text == "logo.png: binary file (16 bytes); not shown."
    latin = call(ctx, "read_file", path="latin.txt")
    assert latin.is_error and latin.text == "latin.txt: not UTF-8 text (byte 0xe9 at line 1, offset 3); not shown."
    folder = call(ctx, "read_file", path="src")
    assert folder.is_error and "is a directory" in folder.text
    missing = call(ctx, "read_file", path="src/nope.py")
    assert missing.is_error and "no such file" in missing.text


def test_read_file_of_an_empty_file(repo: Path) -> None:
    (repo / "empty.py").write_text("")
    assert call(ctx_for(repo), "read_file", path="empty.py").text == "empty.py: empty file (0 lines)"


# --- list_files -----------------------------------------------------------------------------------

def test_list_files_honours_gitignore_and_hides_secrets(repo: Path) -> None:
    result = call(ctx_for(repo), "list_files")
    assert result.text == ".gitignore\nREADME.md\nnotes.txt\nsrc/app.py\n[2 secret file(s) hidden]"
    assert result.data == {"files": 4, "secrets_hidden": 2}


def test_list_files_with_path_and_glob(repo: Path) -> None:
    ctx = ctx_for(repo)
    assert call(ctx, "list_files", path="src").text == "src/app.py"
    assert call(ctx, "list_files", glob="*.md").text == "README.md"
    assert call(ctx, "list_files", glob="src/**/*.py").text == "src/app.py"
    assert call(ctx, "list_files", glob="*.rs").text == "No files matching '*.rs' under .."


def test_list_files_without_git_skips_junk(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    for rel in ["a.py", "pkg/b.py", ".git/config", "node_modules/x/index.js", "pkg/__pycache__/b.pyc", ".env"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n")
    assert call(ctx_for(root), "list_files").text == "a.py\npkg/b.py\n[1 secret file(s) hidden]"


def test_list_files_is_capped(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    (root / "many").mkdir()
    for n in range(1010):
        (root / "many" / f"f{n:04}.txt").write_text("")
    lines = call(ctx_for(root), "list_files").text.splitlines()
    assert len(lines) == 1001
    assert lines[-1] == "[... 10 more files not shown; narrow with path or glob]"


# --- search ---------------------------------------------------------------------------------------

def test_search_reports_file_line_text(repo: Path) -> None:
    result = call(ctx_for(repo), "search", pattern=r"def \w+\(a, b\)")
    assert result.text == "src/app.py:1: def add(a, b):\nsrc/app.py:5: def sub(a, b):"
    assert result.data == {"matches": 2, "files": 1, "timed_out": False}


def test_search_skips_ignored_secret_and_binary_files(repo: Path) -> None:
    (repo / "blob.bin").write_bytes(b"add\x00add")
    result = call(ctx_for(repo), "search", pattern="add")
    assert result.text == ("README.md:2: add and sub\nnotes.txt:1: untracked but visible: add\n"
                           "src/app.py:1: def add(a, b):")


def test_search_with_path_glob_and_no_match(repo: Path) -> None:
    ctx = ctx_for(repo)
    assert call(ctx, "search", pattern="add", glob="*.md").text == "README.md:2: add and sub"
    assert call(ctx, "search", pattern="sub", path="src").text == "src/app.py:5: def sub(a, b):"
    assert call(ctx, "search", pattern="nothing-like-this").text == "No matches for 'nothing-like-this'."


def test_search_invalid_regex_is_an_error_result(repo: Path) -> None:
    result = call(ctx_for(repo), "search", pattern="def (")
    assert result.is_error
    assert result.text == "invalid regular expression 'def (': missing ) at position 5"


def test_search_caps_matches(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    (root / "many.txt").write_text("hit\n" * 250)
    lines = call(ctx_for(root), "search", pattern="hit").text.splitlines()
    assert len(lines) == 201
    assert lines[-1] == "[... 50 more matches not shown (250 in 1 files); narrow the pattern, path or glob]"


# --- write_file -----------------------------------------------------------------------------------

def test_write_file_creates_parents(repo: Path) -> None:
    result = call(ctx_for(repo), "write_file", path="pkg/new/mod.py", content="X = 1\nY = 2\n")
    assert result.text == "Created pkg/new/mod.py (2 lines, 12 bytes)."
    assert (repo / "pkg" / "new" / "mod.py").read_text() == "X = 1\nY = 2\n"
    assert stat.S_IMODE((repo / "pkg" / "new" / "mod.py").stat().st_mode) == 0o644


def test_write_file_replaces_atomically_and_keeps_the_mode(repo: Path) -> None:
    script = repo / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o755)
    inode_before = script.stat().st_ino
    result = call(ctx_for(repo), "write_file", path="run.sh", content="#!/bin/sh\necho new\n")
    assert result.text == "Replaced run.sh (2 lines, 19 bytes)."
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.stat().st_ino != inode_before  # a new file renamed over the old one
    assert sorted(p.name for p in repo.iterdir() if p.name.endswith(".tmp")) == []


def test_write_file_refuses_a_directory(repo: Path) -> None:
    result = call(ctx_for(repo), "write_file", path="src", content="x")
    assert result.is_error and "is a directory" in result.text


# --- refusals and bad calls -----------------------------------------------------------------------

@pytest.fixture
def escape_link(repo: Path, tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "loot.txt").write_text("not yours\n")
    (repo / "link").symlink_to(outside)
    return repo


OUT_OF_BOUNDS = [
    ("../outside/loot.txt", "'..' is not allowed"),
    ("/etc/passwd", "absolute paths are not allowed"),
    ("link/loot.txt", "resolves outside the repository"),
    (".git/config", "the .git directory is off limits"),
    (".env", "secret files"),
    ("keys/id_rsa", "secret files"),
]


@pytest.mark.parametrize("tool", ["read_file", "write_file", "list_files", "search"])
def test_paths_out_of_bounds_are_error_results(escape_link: Path, tool: str) -> None:
    for path, reason in OUT_OF_BOUNDS:
        arguments: dict[str, object] = {"path": path}
        if tool == "write_file":
            arguments["content"] = "pwned\n"
        if tool == "search":
            arguments["pattern"] = "x"
        result = call(ctx_for(escape_link), tool, **arguments)
        assert result.is_error, path
        assert result.text.startswith(f"{tool}: refused: {path}: ") and reason in result.text, result.text
    assert (escape_link.parent / "outside" / "loot.txt").read_text() == "not yours\n"
    assert (escape_link / ".env").read_text() == "API_KEY=add-secret\n"
    assert "pwned" not in (escape_link / ".git" / "config").read_text()


def test_unknown_tool_lists_the_valid_ones(repo: Path) -> None:
    result = dispatch(ToolCall("c", "delete_everything", "{}"), ctx_for(repo))
    assert result.is_error
    assert result.text == ("Unknown tool 'delete_everything'. The tools are: read_file, list_files, search, "
                           "write_patch, write_file, run_tests, finish_step.")


def test_tools_not_offered_are_unknown(repo: Path) -> None:
    result = dispatch(ToolCall("c", "write_file", '{"path": "a", "content": ""}'), ctx_for(repo),
                      names=["read_file", "run_tests"])
    assert result.is_error and result.text == "Unknown tool 'write_file'. The tools are: read_file, run_tests."


def test_invalid_json_says_where_it_broke(repo: Path) -> None:
    result = dispatch(ToolCall("c", "read_file", '{"path": "src/app.py",}'), ctx_for(repo))
    assert result.is_error
    assert result.text.startswith("read_file: the arguments are not valid JSON: Expecting property name "
                                  "enclosed in double quotes at line 1 column 23")
    not_object = dispatch(ToolCall("c", "read_file", '["src/app.py"]'), ctx_for(repo))
    assert not_object.text == "read_file: the arguments must be a JSON object, not list."


def test_missing_and_invalid_arguments_read_like_sentences(repo: Path) -> None:
    ctx = ctx_for(repo)
    missing = dispatch(ToolCall("c", "read_file", "{}"), ctx)
    assert missing.is_error
    assert missing.text == "read_file: missing required argument 'path'. Arguments: path, start_line, end_line."
    wrong = call(ctx, "read_file", path="src/app.py", start_line="first", colour="red")
    assert wrong.text == ("read_file: argument 'start_line': Input should be a valid integer, unable to parse "
                          "string as an integer (got \"first\"); unexpected argument 'colour'. "
                          "Arguments: path, start_line, end_line.")


def test_empty_arguments_mean_no_arguments(repo: Path) -> None:
    assert dispatch(ToolCall("c", "list_files", ""), ctx_for(repo)).text.startswith(".gitignore\n")


def test_every_result_is_capped(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    (root / "data.txt").write_text("".join(f"row {n} " + "y" * 60 + "\n" for n in range(300)))
    result = call(ctx_for(root, output_cap=2000), "search", pattern="row")
    assert len(result.text) < 2100
    assert "characters (" in result.text and "omitted ...]" in result.text
    assert result.text.startswith("data.txt:1: row 0 y")
    assert result.text.endswith("narrow the pattern, path or glob]")


# --- write_patch and finish_step ------------------------------------------------------------------

class Outcome:
    def __init__(self, ok: bool, message: str) -> None:
        self.ok, self.message = ok, message


def test_write_patch_goes_through_the_hook(repo: Path) -> None:
    seen: list[tuple[str, Path]] = []

    def engine(patch: str, root: Path) -> Outcome:
        seen.append((patch, root))
        return Outcome(patch.startswith("---"), "applied 1 file" if patch.startswith("---") else "hunk 1 not found")

    ctx = ctx_for(repo, patch_hook=engine)
    good = call(ctx, "write_patch", patch="--- a/x\n+++ b/x\n")
    bad = call(ctx, "write_patch", patch="garbage")
    assert (good.text, good.is_error, bad.text, bad.is_error) == ("applied 1 file", False, "hunk 1 not found", True)
    assert seen[0] == ("--- a/x\n+++ b/x\n", repo)


def test_write_patch_uses_the_patch_engine(repo: Path) -> None:
    patch_module = pytest.importorskip("tools.patch", reason="the patch engine is not in this checkout yet")
    if not hasattr(patch_module, "apply_patch"):
        pytest.skip("tools.patch does not export apply_patch yet")
    patch = ("--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
             "-    return a + b\n+    return b + a\n")
    result = call(ctx_for(repo), "write_patch", patch=patch)
    assert not result.is_error, result.text
    assert "return b + a" in (repo / "src" / "app.py").read_text()


def test_finish_step_hands_the_summary_to_the_loop(repo: Path) -> None:
    result = call(ctx_for(repo), "finish_step", summary="Fixed sub; tests pass.")
    assert result.data == {"finish": True, "summary": "Fixed sub; tests pass."}
    assert call(ctx_for(repo), "finish_step", summary="").is_error


# --- run_tests ------------------------------------------------------------------------------------

def test_run_tests_counts_a_pass_and_a_fail(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "proj")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_tiny.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n\n\ndef test_bad():\n    assert 1 + 1 == 3\n")
    result = call(ctx_for(root, test_timeout_s=60), "run_tests")
    assert not result.is_error
    assert {k: result.data[k] for k in ("exit_code", "passed", "failed", "errors", "timed_out")} == \
        {"exit_code": 1, "passed": 1, "failed": 1, "errors": 0, "timed_out": False}
    assert result.text.splitlines()[1].startswith("exit code 1; 1 passed, 1 failed (")
    assert "FAILED test_tiny.py::test_bad" in result.text
    assert result.data["failing"] == ["test_tiny.py::test_bad (test_tiny.py:6)"]
    assert "failing (1): test_tiny.py::test_bad (test_tiny.py:6)" in result.text


def test_run_tests_without_a_test_command(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    result = call(ctx_for(root), "run_tests")
    assert result.is_error and result.text.startswith("No test command is configured")
    # The hint names the real key and flag (test_command is no key of ours).
    assert "test_cmd in .agent.toml" in result.text and "--test-cmd" in result.text
    assert "test_command" not in result.text
    assert result.data["ran"] is False


def test_run_tests_quotes_the_models_arguments(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    result = call(ctx_for(root, test_command="echo", sandbox="none"), "run_tests", args=["a b", "$(touch pwned)"])
    assert "a b $(touch pwned)" in result.text
    assert not (root / "pwned").exists()
    assert result.data["sandboxed"] is False
    assert "WITHOUT a sandbox" in result.text


# --- schemas and trimming -------------------------------------------------------------------------

SPEC_TOOLS = {
    "read_file": (["path", "start_line", "end_line"], ["path"]),
    "list_files": (["path", "glob"], []),
    "search": (["pattern", "path", "glob"], ["pattern"]),
    "write_patch": (["patch"], ["patch"]),
    "write_file": (["path", "content"], ["path", "content"]),
    "run_tests": (["args"], []),
    "finish_step": (["summary"], ["summary"]),
}


def test_tool_schemas_match_the_spec() -> None:
    schemas = tool_schemas()
    assert [s["function"]["name"] for s in schemas] == list(SPEC_TOOLS)
    for entry in schemas:
        function = entry["function"]
        params = function["parameters"]
        jsonschema.Draft202012Validator.check_schema(params)
        arguments, required = SPEC_TOOLS[function["name"]]
        assert entry["type"] == "function" and function["description"]
        assert list(params["properties"]) == arguments
        assert params.get("required", []) == required
        assert params["additionalProperties"] is False
        assert all(prop.get("description") for prop in params["properties"].values())
    assert '"title"' not in json.dumps(schemas)
    assert "anyOf" not in json.dumps(schemas)
    run_tests = schemas[5]["function"]["parameters"]["properties"]["args"]
    assert run_tests["type"] == "array" and run_tests["items"] == {"type": "string"}


def test_tool_schemas_are_byte_identical_between_calls() -> None:
    first = tool_schemas()
    first[0]["function"]["name"] = "mutated by a careless caller"
    assert json.dumps(tool_schemas()) == json.dumps(tool_schemas())
    assert tool_schemas()[0]["function"]["name"] == "read_file"
    assert [s["function"]["name"] for s in tool_schemas(["run_tests", "read_file"])] == ["read_file", "run_tests"]


def test_trim_middle_keeps_head_and_tail() -> None:
    text = "".join(f"line {n}\n" for n in range(1000))
    trimmed = trim_middle(text, 200)
    head, marker, tail = trimmed.partition("[... ")
    assert head.startswith("line 0\nline 1\n") and head.endswith("\n")
    omitted = text[len(head): len(text) - len(tail.split("\n", 1)[1])]
    assert marker + tail.split("\n")[0] == f"[... {len(omitted):,} characters ({omitted.count(chr(10))} lines) omitted ...]"
    assert trimmed.endswith("line 998\nline 999\n")
    assert len(trimmed) <= 200 + len(marker + tail.split("\n")[0]) + 1
    assert trim_middle("short", 200) == "short"


def test_write_file_result_for_git_ignored_paths_still_writes(repo: Path) -> None:
    result = call(ctx_for(repo), "write_file", path="build/gen.py", content="x = 1")
    assert result.text == "Created build/gen.py (1 line, 5 bytes)."
    assert git(repo, "status", "--porcelain", "--ignored").count("build/") == 1
    assert os.path.exists(repo / "build" / "gen.py")


def test_write_patch_honours_the_users_extra_secret_globs(tmp_path):
    from tools.paths import DEFAULT_SECRET_GLOBS

    (tmp_path / "deploy.secret").write_text("token = 1\n")
    patch = "--- a/deploy.secret\n+++ b/deploy.secret\n@@ -1 +1 @@\n-token = 1\n+token = 2\n"
    call = ToolCall(id="1", name="write_patch", arguments=json.dumps({"patch": patch}))
    ctx = ToolContext(root=tmp_path, secret_globs=(*DEFAULT_SECRET_GLOBS, "*.secret"))
    result = dispatch(call, ctx)
    assert result.is_error and "secret files" in result.text
    assert (tmp_path / "deploy.secret").read_text() == "token = 1\n"
