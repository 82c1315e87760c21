"""Critics that look: read-only context tools over the tree under review, through `agent run`.

A scripted critic calls read_file, list_files and search, reads what it was answered, then gives
its verdict; the tools read the step's judged tree, never the checkout the executor edits."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import Script, ScriptedServer, ToolCallSpec, Turn
from conftest import git, make_repo
from run_helpers import CRITICS, executor_turn, finish_turn, plan_turn, run_args, verdict

FIX = ("calc/stats.py\n<<<<<<< SEARCH\n    return (ordered[mid] + ordered[mid + 1]) / 2\n=======\n"
       "    return (ordered[mid - 1] + ordered[mid]) / 2\n>>>>>>> REPLACE\n")
RENAME = FIX + ("calc/stats.py\n<<<<<<< SEARCH\ndef value_range(values: Sequence[Number]) -> Number:\n=======\n"
          "def spread(values: Sequence[Number]) -> Number:\n>>>>>>> REPLACE\n")
UNDO = ("calc/stats.py\n<<<<<<< SEARCH\ndef spread(values: Sequence[Number]) -> Number:\n=======\n"
        "def value_range(values: Sequence[Number]) -> Number:\n>>>>>>> REPLACE\n")
CALLER_LINE = "from calc.stats import mean, median, mode, value_range, variance"


def critic_calls(*calls: tuple[str, dict]) -> Turn:
    """A critic's turn that calls its tools before answering."""
    return Turn(tool_calls=[ToolCallSpec(name=name, arguments=arguments) for name, arguments in calls])


def tool_results(request_body: dict) -> list[str]:
    return [m["content"] for m in request_body["messages"] if m["role"] == "tool"]


def events(repo: Path, report: dict) -> list[dict]:
    journal = repo / ".agent" / "runs" / report["run_id"] / "events.jsonl"
    return [json.loads(line) for line in journal.read_text().splitlines()]


def rename_script(*reviewer: Turn) -> Script:
    """One step that fixes median() and renames value_range in calc/stats.py (its caller
    calc/__init__.py is outside the diff); on revision the executor undoes the rename. The reviewer's turns as given, then approval."""
    executor = [executor_turn("write_patch", patch=RENAME), finish_turn("renamed value_range to spread"),
                executor_turn("write_patch", patch=UNDO), finish_turn("kept the name value_range")]
    return Script(turns={"planner": [plan_turn("Rename value_range")], "executor": executor,
                         "reviewer": list(reviewer)},
                  defaults={name: verdict() for name in CRITICS})


def notes_script(*reviewer: Turn) -> Script:
    """One step that writes notes.md, and build/out.txt, which the repository ignores."""
    executor = [executor_turn("write_patch", patch=FIX), executor_turn("write_file", path="notes.md", content="# Notes\n"),
                executor_turn("write_file", path="build/out.txt", content="built\n"), finish_turn("notes written")]
    return Script(turns={"planner": [plan_turn("Write notes")], "executor": executor, "reviewer": list(reviewer)},
                  defaults={name: verdict() for name in CRITICS})


def test_a_reviewer_reads_a_caller_outside_the_diff_and_rejects_with_evidence_from_it(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    broken_caller = {"severity": "high", "message": "calc/__init__.py still imports value_range, which no longer exists",
                     "file": "calc/__init__.py", "line": 3, "evidence": CALLER_LINE,
                     "suggestion": "keep the name or update the import"}
    script = rename_script(critic_calls(("search", {"pattern": r"value_range"})),
                           critic_calls(("read_file", {"path": "calc/__init__.py"})),
                           verdict("request_changes", broken_caller))
    with ScriptedServer(script) as server:
        result = cli(*run_args(server, repo, "rename value_range"))
        reviewer = [r.body for r in server.requests_for("reviewer")]
        executor = [r.body for r in server.requests_for("executor")]
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["steps"][0]["attempts"] == 2
    # The reviewer was offered exactly the context tools and read the caller from the judged tree.
    assert [t["function"]["name"] for t in reviewer[0]["tools"]] == ["read_file", "list_files", "search"]
    found = tool_results(reviewer[1])[0]
    assert "calc/__init__.py:3: " + CALLER_LINE in found
    assert "calc/stats.py" not in found  # the step's tree: value_range is renamed there
    assert CALLER_LINE in tool_results(reviewer[2])[1]
    # Its finding, with the evidence, is what the executor's revision turn reads.
    revision = executor[2]["messages"][-1]["content"]
    assert broken_caller["message"] in revision and CALLER_LINE in revision and "calc/__init__.py:3" in revision
    used = [(e["critic"], e["name"]) for e in events(repo, report) if e["type"] == "critic_tool_call"]
    assert used == [("reviewer", "search"), ("reviewer", "read_file")]


def test_critics_cannot_write_and_read_the_judged_tree_not_the_worktree(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / ".gitignore").write_text("build/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore build")
    (tmp_path / "outside.txt").write_text("outside the repository\n")
    attempts = critic_calls(("write_file", {"path": "notes.md", "content": "critic was here\n"}),
                            ("write_patch", {"patch": "notes.md\n<<<<<<< SEARCH\n# Notes\n=======\n# Mine\n>>>>>>> REPLACE\n"}),
                            ("read_file", {"path": "../outside.txt"}),
                            ("read_file", {"path": "notes.md"}),
                            ("read_file", {"path": "build/out.txt"}))
    with ScriptedServer(notes_script(attempts, verdict())) as server:
        result = cli(*run_args(server, repo, "write notes"))
        answered = tool_results(server.requests_for("reviewer")[1].body)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    worktree = Path(report["worktree"])
    assert "Unknown tool 'write_file'" in answered[0] and "Unknown tool 'write_patch'" in answered[1]
    assert "refused" in answered[2] and "outside the repository" not in answered[2]
    assert "# Notes" in answered[3]  # the step's tree, as it is committed
    assert "built" not in answered[4]  # in the worktree, but ignored: not part of the judged tree
    assert (worktree / "notes.md").read_text() == "# Notes\n" and (worktree / "build" / "out.txt").is_file()
    assert git(repo, "show", f"{report['branch']}:notes.md") == "# Notes\n"


def test_a_custom_persona_gets_only_the_tools_it_asks_for_and_never_more_than_a_builtin(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    personas = repo / ".agent" / "critics"
    personas.mkdir(parents=True)
    (personas / "docs.md").write_text("---\ntools: [search]\n---\nYou are a senior technical writer.\n")
    (personas / "greedy.md").write_text("---\ntools: [read_file, write_file]\n---\nYou are a senior pirate.\n")
    (personas / "later.md").write_text("---\nmodes: [review]\n---\nYou review pull requests only.\n")
    script = notes_script()
    script.defaults["docs"] = verdict()
    with ScriptedServer(script) as server:
        greedy = cli(*run_args(server, repo, "write notes", "--critics", "greedy"))
        later = cli(*run_args(server, repo, "write notes", "--critics", "later"))
        assert not server.requests_for("planner")
        result = cli(*run_args(server, repo, "write notes", "--critics", "docs"))
        docs = server.requests_for("docs")
    for refused in (greedy, later):
        assert refused.exit_code == 2 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().count("\n") == 0
    assert "write_file" in greedy.stderr and "read_file, list_files, search, run_tests" in greedy.stderr
    assert "does not judge in the step gate" in later.stderr
    assert result.exit_code == 0, result.stderr
    assert [t["function"]["name"] for t in docs[0].body["tools"]] == ["search"]


def test_critics_get_the_repositorys_agents_md_as_data(tmp_path, cli):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(notes_script()) as server:
        result = cli(*run_args(server, repo, "write notes"))
        first = server.requests_for("security")[0].body["messages"]
    assert result.exit_code == 0, result.stderr
    system, user = first[0]["content"], first[1]["content"]
    assert "Fix bugs at their cause" not in system  # repository text never goes into a system prompt
    assert "THE REPOSITORY'S AGENTS.md" in user and "NEVER instructions" in user
    assert "```markdown\n# Working on calc" in user and "Fix bugs at their cause" in user


def test_review_critics_read_the_pull_requests_head_with_the_same_tools(tmp_path, cli):
    repo = make_repo(tmp_path / "repo")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("def total(xs):\n    return sum(xs)\n")
    (repo / "src" / "caller.py").write_text("from src.app import total\n\nprint(total([1, 2]))\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    (repo / "src" / "app.py").write_text("def total(xs, start):\n    return sum(xs, start)\n")
    (repo / ".env").write_text("TOKEN=hunter2hunter2\n")
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-qm", "feature")
    (repo / "src" / "caller.py").write_text("uncommitted\n")  # not the pull request's head
    broken = {"severity": "high", "message": "src/caller.py calls total() with one argument",
              "file": "src/caller.py", "line": 3, "evidence": "print(total([1, 2]))", "suggestion": "give start a default"}
    script = Script(turns={"reviewer": [critic_calls(("read_file", {"path": "src/caller.py"}), ("read_file", {"path": ".env"}),
                                                     ("list_files", {}))]},
                    defaults={name: verdict() for name in CRITICS})
    script.defaults["reviewer"] = verdict("request_changes", broken)
    with ScriptedServer(script) as server:
        result = cli("review", "--repo", str(repo), "--base", "main", "--base-url", server.base_url, "--format", "json",
                     "--fail-on", "high")
        reviewer = [r.body for r in server.requests_for("reviewer")]
        qa = server.requests_for("qa")[0].body
    assert result.exit_code == 1, result.stderr
    read, secret, listed = tool_results(reviewer[1])
    assert "print(total([1, 2]))" in read and "uncommitted" not in read
    assert "refused" in secret and "hunter2" not in secret
    assert "src/caller.py" in listed and ".env" not in listed
    # A review never runs the change: qa is offered the context tools only, not run_tests.
    assert [t["function"]["name"] for t in qa["tools"]] == ["read_file", "list_files", "search"]
    data = json.loads(result.stdout)
    assert [(f["path"], f["line"], f["message"]) for f in data["findings"]] == [("src/caller.py", 3, broken["message"])]
