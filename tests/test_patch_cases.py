"""Every case in bench/patchbench_cases: real Go, Rust, JavaScript, Java, C/C++, Makefile and
Python files, a patch with a mistake models make, and the exact files that must result (or, for
`expect: refuse`, the proof that nothing was touched)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools.patch import apply_patch

CASES = Path(__file__).resolve().parent.parent / "bench" / "patchbench_cases"


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def case_dirs() -> list[Path]:
    return sorted(meta.parent for meta in CASES.rglob("meta.json"))


def test_every_kind_of_round_two_has_cases_in_several_languages():
    metas = [json.loads((d / "meta.json").read_text()) for d in case_dirs()]
    kinds = {m["kind"] for m in metas}
    assert kinds >= {"tabs_as_spaces", "indent_width", "no_newline_eof", "binary", "elided", "blank_ends",
                     "stale_context", "eof_count_off_by_one"}
    assert {m["language"] for m in metas} >= {"go", "rust", "javascript", "java", "c", "c++", "make", "python"}
    assert {m["format"] for m in metas} == {"unified", "search-replace", "v4a"}


@pytest.mark.parametrize("case", case_dirs(), ids=lambda d: f"{d.parent.name}/{d.name}")
def test_case_gives_exactly_the_expected_files(case: Path, tmp_path: Path):
    meta = json.loads((case / "meta.json").read_text())
    repo = tmp_path / "repo"
    shutil.copytree(case / "before", repo)
    result = apply_patch((case / "patch.txt").read_bytes().decode("utf-8"), repo)
    if meta["expect"] == "apply":
        assert result.ok, result.message
        assert files(repo) == files(case / "after")
    else:
        assert not result.ok
        assert files(repo) == files(case / "before")
        assert result.message.startswith("Patch refused; no file was changed.")
