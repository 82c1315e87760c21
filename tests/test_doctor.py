"""`agent doctor`, driven as a user drives it: a subprocess against real files, git repositories
and the scripted model server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agent.testing import Script, ScriptedServer
from conftest import make_repo

SECRET = "sk-doctor-fake-key-5f1c9e0b7a-never-printed"


@pytest.fixture(autouse=True)
def _no_agent_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENT_TEST_CMD", "AGENT_CRITICS"):
        monkeypatch.delenv(name, raising=False)


def closed_port_url() -> str:
    """An endpoint on this machine that refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def assert_one_line_error(result, exit_code: int = 2) -> str:
    assert result.exit_code == exit_code
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_file_is_one_line_naming_file_and_key(cli, tmp_repo: Path) -> None:
    (tmp_repo / ".agent.toml").write_text("[roles.planner]\nmax_completion_tokens = 50000\n")
    line = assert_one_line_error(cli("doctor", "--repo", str(tmp_repo)))
    assert line == (f"agent: {tmp_repo / '.agent.toml'}: roles.planner.max_completion_tokens: "
                    "must be at most 40000 (got 50000)")


def test_toml_syntax_error_names_the_line(cli, tmp_repo: Path) -> None:
    (tmp_repo / ".agent.toml").write_text('model = "x"\n\n[roles.planner\n')
    line = assert_one_line_error(cli("doctor", "--repo", str(tmp_repo)))
    assert f"{tmp_repo / '.agent.toml'}:3: invalid TOML (line 3" in line


def test_unknown_key_gets_a_hint(cli, tmp_repo: Path) -> None:
    (tmp_repo / "pyproject.toml").write_text("[tool.agent]\nmax_revision = 1\n")
    line = assert_one_line_error(cli("doctor", "--repo", str(tmp_repo)))
    assert line.endswith("pyproject.toml: tool.agent.max_revision: unknown key; did you mean 'max_revisions'?")


def test_key_in_file_is_refused_without_echoing_it(cli, tmp_repo: Path) -> None:
    (tmp_repo / ".agent.toml").write_text(f'api_key = "{SECRET}"\n')
    result = cli("doctor", "--repo", str(tmp_repo))
    line = assert_one_line_error(result)
    assert "api_key: API keys are never read from a configuration file" in line and "CEREBRAS_API_KEY" in line
    assert SECRET not in result.stdout + result.stderr


def test_bad_environment_value_names_the_variable(cli, tmp_repo: Path) -> None:
    line = assert_one_line_error(cli("doctor", "--repo", str(tmp_repo), env={"AGENT_PROVIDER": "azure"}))
    assert line.startswith("agent: AGENT_PROVIDER: must be one of cerebras")


def test_reachable_endpoint_with_key_is_ready_and_the_key_never_shows(cli, tmp_repo: Path) -> None:
    (tmp_repo / ".agent.toml").write_text('max_steps = 6\n[roles.planner]\nmodel = "zai-glm-4.7"\n')
    with ScriptedServer(Script()) as server:
        result = cli("doctor", "--repo", str(tmp_repo), "--provider", "openai", "--base-url", server.base_url,
                     env={"AGENT_API_KEY": SECRET, "AGENT_MODEL": "zai-glm-4.7"})
        sent = [r.headers.get("Authorization") or r.headers.get("authorization") for r in server.requests]
    assert result.exit_code == 0, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert sent == [f"Bearer {SECRET}"]  # the key goes to the endpoint, and nowhere else
    out = result.stdout
    assert "set (AGENT_API_KEY)" in out and "HTTP 200" in out and "doctor: ready" in out
    assert "flag --provider" in out and "flag --base-url" in out and "env AGENT_MODEL" in out
    assert f"file {tmp_repo / '.agent.toml'}" in out and "default" in out
    assert "git repository at" in out and "sandbox" in out


def test_unreachable_endpoint_is_exit_1_and_one_line(cli, tmp_repo: Path) -> None:
    url = closed_port_url()
    result = cli("doctor", "--repo", str(tmp_repo), "--provider", "vllm", "--base-url", url)
    assert result.exit_code == 1
    failing = [line for line in result.stdout.splitlines() if line.lstrip().startswith("fail")]
    assert len(failing) == 1 and failing[0].startswith(f"  fail  endpoint {url}  unreachable: ")
    assert "not needed for a local endpoint" in result.stdout  # a local endpoint needs no key
    assert result.stderr == ""


def test_missing_key_is_exit_1_and_names_the_variable(cli, tmp_repo: Path) -> None:
    # 127.0.0.2 is loopback (no network is touched) but is not one of the keyless local hosts.
    result = cli("doctor", "--repo", str(tmp_repo), "--base-url", "http://127.0.0.2:9/v1")
    assert result.exit_code == 1
    assert "missing: set CEREBRAS_API_KEY" in result.stdout
    assert "Roles" in result.stdout and "Settings" in result.stdout  # everything is still printed


def test_not_a_git_repository_is_reported(cli, tmp_path: Path) -> None:
    with ScriptedServer(Script()) as server:
        result = cli("doctor", "--repo", str(tmp_path), "--provider", "vllm", "--base-url", server.base_url)
    assert result.exit_code == 0
    assert "is not a git repository" in result.stdout


def test_doctor_refuses_the_critic_that_run_refuses(cli, tmp_repo: Path) -> None:
    env = {"AGENT_CRITICS": "reviewer,stylist"}
    with ScriptedServer(Script()) as server:
        doctor = cli("doctor", "--repo", str(tmp_repo), "--base-url", server.base_url, env=env)
        run = cli("run", "tidy up", "--repo", str(tmp_repo), "--base-url", server.base_url, "--yes", env=env)
    assert run.exit_code == 2
    refusal = run.stderr.strip().removeprefix("agent: ")
    assert refusal.startswith("unknown critic 'stylist'")
    assert doctor.exit_code == 1
    line = next(line for line in doctor.stdout.splitlines() if line.lstrip().startswith("fail"))
    assert line.split()[:2] == ["fail", "critics"] and line.endswith(refusal)
    assert doctor.stdout.strip().endswith("doctor: 1 problem(s): critics")


def test_roles_show_how_reasoning_goes_back_and_is_switched_off(cli, tmp_repo: Path) -> None:
    (tmp_repo / ".agent.toml").write_text('[roles.planner]\nprovider = "zai"\nbase_url = "http://127.0.0.1:9/v1"\n'
                                          '[roles.security]\nreasoning_carrier = "reasoning_content"\n')
    result = cli("doctor", "--repo", str(tmp_repo), env={"COLUMNS": "400"})
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()[:1] in
            (["planner"], ["executor"], ["security"])}
    assert '<think>…</think> in content' in rows["executor"]
    assert 'reasoning_effort: "none", then disable_reasoning: true' in rows["executor"]
    assert "reasoning_content" in rows["planner"] and 'thinking: {type: "disabled"}' in rows["planner"]
    assert "reasoning_content" in rows["security"] and "<think>" not in rows["security"]  # the role's override


def test_doctor_says_which_test_command_runs_and_why(cli, tmp_path: Path) -> None:
    go = make_repo(tmp_path / "go", "go_wordstats")
    bare = make_repo(tmp_path / "bare")
    with ScriptedServer(Script()) as server:
        found = cli("doctor", "--repo", str(go), "--provider", "vllm", "--base-url", server.base_url)
        none = cli("doctor", "--repo", str(bare), "--provider", "vllm", "--base-url", server.base_url)
        configured = cli("doctor", "--repo", str(go), "--provider", "vllm", "--base-url", server.base_url,
                         env={"AGENT_TEST_CMD": "make check"})
    line = next(line for line in found.stdout.splitlines() if "test command" in line)
    assert line.split()[:3] == ["ok", "test", "command"] and line.endswith("go test -json ./... (go.mod found)")
    line = next(line for line in none.stdout.splitlines() if "test command" in line)
    assert line.split()[0] == "warn" and "runs will end unverified" in line and "--test-cmd" in line
    assert "make check (configured: test_cmd)" in configured.stdout
