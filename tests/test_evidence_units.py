"""The evidence check and relevance on literal trees: pure functions, no model."""

from __future__ import annotations

from pathlib import Path

import pytest

from critics.evidence import Evidence
from critics.persona import Relevance
from critics.registry import load_critic
from critics.verdict import Finding, Verdict

CODE = "def area(w, h):\n    if w < 0:\n        raise ValueError('w')\n    return w  *  h\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "geo.py").write_text(CODE)
    (tmp_path / ".env").write_text("TOKEN=abcdefgh\n")
    return tmp_path


def blocking(file: str | None, line: int | None, evidence: str | None) -> Finding:
    return Finding(severity="medium", message="m", file=file, line=line, evidence=evidence)


@pytest.mark.parametrize("file, line, evidence", [
    ("geo.py", 4, "return w * h"),  # whitespace does not matter
    ("geo.py", 4, "4\t    return w  *  h"),  # copied from read_file with its number
    ("geo.py", 4, "     4 +     return w  *  h"),  # copied from a review's diff line
    ("geo.py", 4, "geo.py:4:     return w  *  h"),  # copied from search
    ("b/geo.py", 2, "if w < 0:\n    raise ValueError('w')"),  # a diff's b/ prefix, two lines
    ("geo.py", 1, "return w * h"),  # a few lines off is still near
    (None, None, "1 failed, 3 passed"),  # quoted from the test output
    ("geo.py", 4, "E   AssertionError: 12 != 13"),  # names the file, quotes the test output
])
def test_supported_findings_are_kept(tree: Path, file: str | None, line: int | None, evidence: str) -> None:
    check = Evidence(tree, ["...\nE   AssertionError: 12 != 13\n1 failed, 3 passed in 0.1s"])
    assert check.unsupported(blocking(file, line, evidence)) is None


@pytest.mark.parametrize("file, line, evidence, reason", [
    ("geo.py", 4, None, "it quotes no evidence"),
    ("geo.py", 4, "  \n ", "it quotes no evidence"),
    ("nope.py", 1, "x", "nope.py does not exist in the tree under review"),
    ("geo.py", 9, "return w * h", "line 9 is beyond the end of geo.py (4 lines)"),
    ("geo.py", 4, "return w + h", "its evidence is not in geo.py:4 (nor in the test output)"),
    (None, None, "2 failed", "it names no file and its evidence is not in the test output"),
    ("../outside.py", 1, "x", "../outside.py cannot be read (../outside.py: '..' is not allowed; paths must stay "
                             "inside the repository)"),
])
def test_unsupported_findings_say_why(tree: Path, file: str | None, line: int | None, evidence: str | None,
                                      reason: str) -> None:
    assert Evidence(tree, ["1 failed, 3 passed"]).unsupported(blocking(file, line, evidence)) == reason


def test_a_secret_file_is_never_read_to_check_a_quote(tree: Path) -> None:
    reason = Evidence(tree).unsupported(blocking(".env", 1, "TOKEN=abcdefgh"))
    assert reason is not None and "secret files" in reason


def test_a_request_for_changes_whose_blocking_findings_all_drop_becomes_an_approval(tree: Path) -> None:
    advice = Finding(severity="low", message="naming", file=None, line=None, evidence=None)
    verdict = Verdict(verdict="request_changes", findings=[blocking("geo.py", 99, "x"), advice])
    checked = Evidence(tree).check(verdict)
    assert checked.verdict.verdict == "approve" and checked.verdict.findings == [advice]
    assert checked.approved_after_drops and checked.dropped[0].reason.startswith("line 99")
    kept = Evidence(tree).check(Verdict(verdict="request_changes", findings=[blocking("geo.py", 4, "return w * h"),
                                                                              blocking("geo.py", 99, "x")]))
    assert kept.verdict.verdict == "request_changes" and not kept.approved_after_drops and len(kept.dropped) == 1


def test_relevance_skips_only_a_change_with_nothing_that_concerns_the_critic(tmp_path: Path) -> None:
    performance = load_critic("performance", tmp_path).relevance
    assert performance.why_skip(["README.md", "docs/guide/intro.md"]) == "docs only"
    assert performance.why_skip(["README.md", "src/app.py"]) is None
    assert performance.why_skip([]) is None  # an empty step is judged, never waved through
    assert load_critic("security", tmp_path).relevance.why_skip(["README.md"]) is None
    only_sql = Relevance(paths=("*.sql", "migrations/**"))
    assert only_sql.why_skip(["app.py"]) == "no changed file concerns it"
    assert only_sql.why_skip(["db/migrations/0001.sql"]) is None
