"""Each workspace fixture's own suite behaves as designed, run as the agent runs it: in a copy, in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, git, make_repo


@dataclass
class Suite:
    exit_code: int
    output: str


def run_suite(project: Path, *args: str, env: dict[str, str] | None = None) -> Suite:
    """`python -m pytest -q -p no:cacheprovider ARGS` in `project`, with none of our own pytest settings leaking in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    # The fixtures need no plugins; not loading ours (xdist, hypothesis, benchmark) halves the start-up time.
    full_env = (env if env is not None else base) | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=project,
                          env=full_env, capture_output=True, text=True, timeout=60)
    return Suite(proc.returncode, proc.stdout + proc.stderr)


def minimal_env(**extra: str) -> dict[str, str]:
    """Just enough environment to run Python, so nothing of ours (keys, tokens) reaches a suite that prints it."""
    return {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **extra}


@pytest.mark.parametrize("fixture", ["calc_bug", "todo_feature", "user_store", "adversarial", "web_notes"])
def test_every_fixture_has_a_readme_and_its_own_pytest_config(fixture: str):
    project = FIXTURES / fixture
    assert (project / "README.md").is_file()
    assert "[tool.pytest.ini_options]" in (project / "pyproject.toml").read_text()
    assert not list(project.rglob("conftest.py"))  # a parent project's pytest would load it


def test_web_notes_suite_passes_although_its_form_posts_to_a_route_the_server_lacks(tmp_path: Path):
    repo = make_repo(tmp_path / "notes", "web_notes")
    suite = run_suite(repo)
    assert suite.exit_code == 0 and "5 passed" in suite.output
    # Only a user flow shows the bug: the page's form posts to /note, the server adds notes on /notes.
    assert 'action="/note"' in (repo / "notes" / "page.py").read_text()
    assert 'self.path != "/notes"' in (repo / "notes" / "server.py").read_text()
    assert (repo / "Procfile").read_text().startswith("web: ")


def test_calc_bug_fails_exactly_one_test_and_a_one_line_fix_makes_it_green(tmp_path: Path):
    repo = make_repo(tmp_path / "calc", "calc_bug")

    before = run_suite(repo)
    assert before.exit_code == 1
    assert "1 failed, 6 passed" in before.output
    assert re.findall(r"^FAILED (\S+)", before.output, re.MULTILINE) == ["tests/test_stats.py::test_median_even_length"]

    stats = repo / "calc" / "stats.py"
    stats.write_text(stats.read_text().replace("ordered[mid] + ordered[mid + 1]", "ordered[mid - 1] + ordered[mid]"))
    assert git(repo, "diff", "--numstat").split() == ["1", "1", "calc/stats.py"]
    after = run_suite(repo)
    assert after.exit_code == 0 and "7 passed" in after.output
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == " M calc/stats.py\n"  # caches are ignored


def test_todo_feature_passes_and_lacks_marking_an_item_done(tmp_path: Path):
    repo = make_repo(tmp_path / "todo", "todo_feature")

    suite = run_suite(repo)
    assert suite.exit_code == 0 and "7 passed" in suite.output
    assert "def complete" not in (repo / "todo" / "store.py").read_text()
    cli = subprocess.run([sys.executable, "-m", "todo", "--file", str(tmp_path / "t.json"), "done", "1"], cwd=repo,
                         env=minimal_env(), capture_output=True, text=True, timeout=30)
    assert cli.returncode == 2 and "invalid choice: 'done'" in cli.stderr
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_user_store_passes_and_its_sql_injection_is_real(tmp_path: Path):
    repo = make_repo(tmp_path / "users", "user_store")

    suite = run_suite(repo)
    assert suite.exit_code == 0 and "6 passed" in suite.output
    probe = (
        "from users import UserStore\n"
        "s = UserStore(':memory:'); s.add_user('ada', 'ada@example.org')\n"
        "print(s.find_by_name(\"nobody' OR '1'='1\"))\n"
    )
    injected = subprocess.run([sys.executable, "-c", probe], cwd=repo, env=minimal_env(), capture_output=True,
                              text=True, timeout=30)
    assert "name='ada'" in injected.stdout  # a name that matches nobody returned a user
    assert 'SECRET_KEY = "' in (repo / "users" / "tokens.py").read_text()


def test_adversarial_checks_are_invisible_to_a_parent_project():
    """Even pointed straight at the fixture, pytest with our settings collects nothing there."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(FIXTURES / "adversarial")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 5, proc.stdout + proc.stderr  # 5: no tests collected


def test_adversarial_suite_collects_its_checks_but_not_the_secret_leak(tmp_path: Path):
    repo = make_repo(tmp_path / "adv", "adversarial")
    listed = run_suite(repo, "--collect-only", env=minimal_env())
    assert "9 tests collected" in listed.output
    assert "secret_leak" not in listed.output
    assert "AGENT_FIXTURE_SECRET=sk-fixture-0123456789abcdef" in (repo / ".env").read_text()


def test_adversarial_markers_report_escapes_without_a_sandbox(tmp_path: Path):
    """Run unsandboxed, the probes that are harmless here get through, and say so at a line start.

    The network, home, root and ~/.ssh probes are left to the sandbox's own tests.
    """
    repo = make_repo(tmp_path / "adv", "adversarial")
    suite = run_suite(repo, "-k", "ordinary or parent or symlink or environment",
                      env=minimal_env(HOME=str(tmp_path), FIXTURE_API_KEY="sk-planted-by-test"))

    assert suite.exit_code == 1
    markers = re.findall(r"^SANDBOX-(BLOCKED|ESCAPED) (\S+)", suite.output, re.MULTILINE)
    assert sorted(markers) == [("ESCAPED", "env"), ("ESCAPED", "symlink"), ("ESCAPED", "write-parent")]
    assert "ENV FIXTURE_API_KEY=sk-planted-by-test" in suite.output
    assert "1 passed" in suite.output and "3 failed" in suite.output
    assert not list(tmp_path.glob("agent-sandbox-escape-*"))  # what got through was removed at once
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""  # and the planted link too


def test_adversarial_env_probe_is_blocked_when_no_key_is_present(tmp_path: Path):
    repo = make_repo(tmp_path / "adv", "adversarial")
    suite = run_suite(repo, "-k", "environment", env=minimal_env(HOME=str(tmp_path)))
    assert suite.exit_code == 0
    assert re.search(r"^SANDBOX-BLOCKED env$", suite.output, re.MULTILINE)


def test_secret_leak_prints_the_planted_secret_only_when_named(tmp_path: Path):
    repo = make_repo(tmp_path / "adv", "adversarial")
    suite = run_suite(repo, "secret_leak.py", env=minimal_env())
    assert suite.exit_code == 0
    assert re.search(r"^SANDBOX-LEAK dotenv AGENT_FIXTURE_SECRET=sk-fixture-0123456789abcdef$", suite.output,
                     re.MULTILINE)
