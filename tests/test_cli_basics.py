from pathlib import Path


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "resume", "runs", "show", "undo", "demo", "apply", "review", "batch", "probe", "doctor"):
        assert f"  {command} " in result.stdout


def test_unknown_flag_is_one_line_and_exit_2(cli, tmp_path: Path):
    result = cli("apply", "x.patch", "--no-such-flag", cwd=tmp_path)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "--no-such-flag" in result.stderr
