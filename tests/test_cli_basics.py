import gc
import sys
from pathlib import Path

import pytest

from agent import cli
from test_batch_support import make_repos, read_results, scripted_server, write_spec


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "resume", "runs", "show", "undo", "demo", "apply", "review", "batch", "probe", "doctor"):
        assert f"  {command} " in result.stdout


def test_version_and_short_help(cli):
    from importlib.metadata import version

    shown = cli("--version")
    assert shown.exit_code == 0 and shown.stdout.strip() == f"agent (glm-agent) {version('glm-agent')}"
    for args in (("-h",), ("run", "-h"), ("batch", "-h")):
        short = cli(*args)
        assert short.exit_code == 0, short.stderr
        assert short.stdout == cli(*args[:-1], "--help").stdout and "[OPTIONS]" in short.stdout


def test_unknown_flag_is_one_line_and_exit_2(cli, tmp_path: Path):
    result = cli("apply", "x.patch", "--no-such-flag", cwd=tmp_path)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "--no-such-flag" in result.stderr


def test_the_garbage_collector_is_on_again_once_a_batch_has_loaded(tmp_path: Path, monkeypatch):
    """Off while the modules load (start-up), on for the work: a long batch or server must collect.
    So too when the batch loads no model stack: a finished spec run again, a dry run."""
    make_repos(tmp_path)
    results = tmp_path / "r.jsonl"

    def batch(*flags: str) -> None:
        monkeypatch.setattr(sys, "argv", ["agent", "batch", str(spec), "--results", str(results), *flags])
        with pytest.raises(SystemExit) as ended:
            cli.main()
        assert ended.value.code == 0 and gc.isenabled(), flags

    try:
        with scripted_server() as server:
            spec = write_spec(tmp_path / "batch.yaml", server, "  - repo: calc\n    vars: {path: calc/stats.py}\n",
                              no_critics=True)
            batch()
            sent = len(server.requests)
            assert sent > 0
            batch("--resume")
            batch("--dry-run")
            assert len(server.requests) == sent
        assert [line["status"] for line in read_results(results)] == ["succeeded"]
    finally:
        gc.enable()
        gc.unfreeze()
