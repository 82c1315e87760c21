"""The batch spec: targets resolved from repositories and globs, and errors that name the key and line."""

from __future__ import annotations

import json

import pytest

from agent.batch.spec import SpecError, glob_regex, load_targets
from conftest import git, make_repo
from test_batch_support import make_repos


def _spec(tmp_path, text: str):
    path = tmp_path / "batch.yaml"
    path.write_text(text)
    return path


def _error(tmp_path, text: str) -> str:
    with pytest.raises(SpecError) as caught:
        load_targets(_spec(tmp_path, text))
    return str(caught.value)


def test_targets_from_repositories_globs_and_vars(tmp_path):
    make_repos(tmp_path)
    spec, targets = load_targets(_spec(tmp_path, """\
task: "Port {path} to {lib} ({team})"
vars: {team: core, lib: httpx}
model: zai-glm-4.7
critics: reviewer, qa
targets:
  - repo: todo
    glob: "todo/**/*.py"
  - repo: calc
    vars: {path: calc/stats.py, lib: requests}
  - repo: ./users
    id: "users-{team}"
    glob: "users/t*.py"
"""))
    assert [t.id for t in targets] == ["todo:todo/__init__.py", "todo:todo/__main__.py", "todo:todo/cli.py",
                                       "todo:todo/store.py", "calc:calc/stats.py", "users-core:users/tokens.py"]
    assert targets[4].task == "Port calc/stats.py to requests (core)"
    assert targets[4].vars == {"team": "core", "lib": "requests", "path": "calc/stats.py"}
    assert targets[0].repo == (tmp_path / "todo").resolve()
    assert [t.line for t in targets] == [6, 6, 6, 6, 8, 10]
    assert spec.flags() == {"model": "zai-glm-4.7", "critics": "reviewer, qa"}


def test_a_glob_sees_committed_files_only(tmp_path):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    (repo / "calc" / "scratch.py").write_text("untracked\n")  # not in the run's worktree, so not a target
    _, targets = load_targets(_spec(tmp_path, "task: fix {path}\ntargets:\n  - repo: calc\n    glob: 'calc/*.py'\n"))
    assert [t.vars["path"] for t in targets] == ["calc/__init__.py", "calc/stats.py"]


@pytest.mark.parametrize("pattern, path, matches", [
    ("libs/*/setup.py", "libs/a/setup.py", True),
    ("libs/*/setup.py", "libs/a/b/setup.py", False),
    ("**/*.py", "a.py", True),
    ("**/*.py", "a/b/c.py", True),
    ("src/**", "src/a/b", True),
    ("file?.[ch]", "file1.c", True),
    ("file?.[!ch]", "file1.c", False),
])
def test_glob_patterns(pattern, path, matches):
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


@pytest.mark.parametrize("text, expected", [
    ("task: x\ntargets:\n  - repo: calc\n    glb: '*.py'\n", "batch.yaml:4: targets[0].glb: unknown key; did you mean 'glob'?"),
    ("task: x\ntargets:\n  - repo: calc\n  - rep: calc\n",
     "batch.yaml:4: targets[1].rep: unknown key; did you mean 'repo'? (known: repo, vars, glob, id)\n  "),
    ("task: x\ntargets:\n  - repo: calc\n  - repo: calc\n    vars: [a, b]\n",
     "batch.yaml:5: targets[1].vars: must be a mapping (got ['a', 'b'])"),
    ("targets:\n  - repo: calc\n", "batch.yaml:1: task: required key is missing"),
    ("task: x\nmax_revisions: lots\ntargets:\n  - repo: calc\n", "batch.yaml:2: max_revisions: must be an integer (got 'lots')"),
    ("task: x\ntargets: []\n", "batch.yaml:2: targets: must list at least one target"),
    ("task: 'fix {}'\ntargets:\n  - repo: calc\n", "batch.yaml:1: task: {} is not a variable name"),
    ("task: x\ntargets:\n  - repo: calc\n    glob: [1\n", "not valid YAML"),
    ("- a\n- b\n", "batch.yaml:1: the spec must be a mapping"),
])
def test_spec_errors_name_the_key_and_line(tmp_path, text, expected):
    make_repo(tmp_path / "calc", "calc_bug")
    assert expected in _error(tmp_path, text)


def test_every_spec_problem_is_shown_in_the_projects_words(tmp_path, cli):
    make_repo(tmp_path / "calc", "calc_bug")
    problems = "".join(f"  - repo: calc\n    id: t{i}\n    vars: [{i}]\n" for i in range(12))
    spec = _spec(tmp_path, f"task: 'fix {{path'\nmax_steps: lots\ncritics: 3\ntargets:\n{problems}")
    result = cli("batch", str(spec), "--dry-run")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "agent: the batch spec has 15 problems:"
    assert lines[1:4] == [f"  {spec}:1: task: has a '{{' that is never closed (write {{{{ and }}}} for literal braces)",
                          f"  {spec}:2: max_steps: must be an integer (got 'lots')",
                          f"  {spec}:3: critics: must be a list or a string (got 3)"]
    assert lines[4] == f"  {spec}:7: targets[0].vars: must be a mapping (got [0])"
    assert len(lines) == 12 and lines[-1] == "  (and 5 more)"  # ten shown, the rest counted
    for line in lines:
        assert "should" not in line and "Value error" not in line and "after validation" not in line


def test_a_dry_run_refuses_what_the_run_refuses_and_names_the_spec_key(tmp_path, cli):
    make_repo(tmp_path / "calc", "calc_bug")
    spec = _spec(tmp_path, "task: x\nbase_url: http://127.0.0.1:9/v1\nmax_steps: 99\ntargets:\n  - repo: calc\n")
    for args in (("--dry-run",), ()):
        result = cli("batch", str(spec), *args)
        assert result.exit_code == 2, result.stdout
        assert result.stderr.strip() == f"agent: {spec}:3: max_steps: must be at most 12 (got 99)"
    spec.write_text("task: x\nbase_url: http://127.0.0.1:9/v1\ncritics: [reviewer, stylist]\ntargets:\n  - repo: calc\n")
    refused = cli("batch", str(spec), "--dry-run")
    assert refused.exit_code == 2 and "unknown critic 'stylist'" in refused.stderr
    assert not (tmp_path / "calc" / ".agent").exists()


def test_a_missing_variable_names_the_target(tmp_path):
    make_repos(tmp_path)
    message = _error(tmp_path, "task: 'fix {path} for {owner}'\nvars: {owner: me}\ntargets:\n"
                               "  - repo: calc\n    vars: {path: calc/stats.py}\n  - repo: todo\n    id: todo-fix\n")
    assert message.endswith("/batch.yaml:6: targets[1] (todo-fix): the template uses {path}, which this target "
                       "does not set (its vars: owner)")


def test_repository_and_glob_problems_name_the_line(tmp_path):
    make_repos(tmp_path)
    (tmp_path / "plain").mkdir()
    assert "batch.yaml:4: targets[1].repo: " in _error(tmp_path, "task: x\ntargets:\n  - repo: calc\n  - repo: plain\n")
    assert "not a git repository" in _error(tmp_path, "task: x\ntargets:\n  - repo: calc\n  - repo: plain\n")
    message = _error(tmp_path, "task: x {path}\ntargets:\n  - repo: calc\n    glob: '*.rs'\n")
    assert "/batch.yaml:4: targets[0].glob: '*.rs' matches no file committed in " in message
    message = _error(tmp_path, "task: x\ntargets:\n  - repo: calc\n  - repo: calc\n")
    assert message.endswith("/batch.yaml:4: target id 'calc' is also used at line 3; give each target its own `id`")


def test_dry_run_lists_targets_without_a_model_call(tmp_path, cli):
    make_repos(tmp_path)
    spec = _spec(tmp_path, "task: 'Tidy {path}'\nbase_url: http://127.0.0.1:9/v1\ntargets:\n"
                           "  - repo: calc\n    glob: 'calc/*.py'\n  - repo: users\n    vars: {path: users/store.py}\n")
    result = cli("batch", str(spec), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "calc:calc/stats.py\n  repo: " in result.stdout and "  task: Tidy users/store.py" in result.stdout
    assert "  vars: path=calc/__init__.py" in result.stdout and "3 target(s); nothing was run" in result.stdout
    assert git(tmp_path / "calc", "branch", "--list", "agent/*") == ""  # nothing was created
    assert not (tmp_path / "calc" / ".agent").exists()


def test_user_errors_are_one_line_and_exit_2(tmp_path, cli):
    missing = cli("batch", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and missing.stderr.strip() == f"agent: {tmp_path / 'nope.yaml'}: no such batch spec"
    make_repos(tmp_path)
    spec = _spec(tmp_path, "task: x\nbase_url: http://127.0.0.1:9/v1\ntargets:\n  - repo: calc\n")
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"target": "calc", "repo": "r", "status": "succeeded"}) + "\n")
    again = cli("batch", str(spec), "--results", str(results))
    assert again.exit_code == 2 and "already holds 1 result(s): pass --resume" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
