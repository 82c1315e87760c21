"""The sandbox runner: scrubbed environment, process-group timeouts, capped output, and bubblewrap's walls."""

from __future__ import annotations

import os
import shlex
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import git, make_repo

from tools import sandbox
from tools.sandbox import SandboxMode, detect_sandbox, run_sandboxed, scrub_env

PY = shlex.quote(sys.executable)
BWRAP = detect_sandbox()
needs_bwrap = pytest.mark.skipif(not BWRAP.available, reason=f"bubblewrap sandbox unavailable: {BWRAP.detail}")
MODES = ["none", pytest.param("bwrap", marks=needs_bwrap)]


def run(cmd: str, cwd: Path, mode: SandboxMode = "none", timeout_s: float = 30, cap: int = 100_000,
        env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_sandboxed(cmd, cwd, timeout_s=timeout_s, mode=mode, output_cap=cap, extra_env=env)


def alive(pid: int) -> bool:
    """True while `pid` is a running process (a zombie awaiting its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker` and that are still running."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def test_plain_run_reports_exit_code_output_and_warning(tmp_path: Path) -> None:
    outcome = run("echo out; echo err >&2; exit 3", tmp_path)
    assert (outcome.exit_code, outcome.output, outcome.timed_out) == (3, "out\nerr\n", False)
    assert outcome.sandboxed is False
    assert outcome.warning is not None and "WITHOUT a sandbox" in outcome.warning


def test_scrub_env_drops_credentials_and_keeps_the_rest() -> None:
    env = {"PATH": "/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "CEREBRAS_API_KEY": "k", "GITHUB_TOKEN": "t",
           "AWS_SECRET_ACCESS_KEY": "s", "DB_PASSWORD": "p", "my_private_key": "x", "SSH_AUTH_SOCK": "/tmp/a",
           "GH_PAT": "g", "AWS_ACCESS_KEY_ID": "i", "PYTHONPATH": "/src", "KEYBOARD": "us", "TOKENIZERS_PARALLELISM": "1"}
    assert scrub_env(env) == {"PATH": "/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "PYTHONPATH": "/src",
                              "KEYBOARD": "us", "TOKENIZERS_PARALLELISM": "1"}


SECRET_VARIABLES = {"DB_PASS": "hunter22", "MYSQL_PWD": "pw", "CI_JOB_JWT": "x", "CI_JOB_JWT_V2": "x",
                    "DOCKER_AUTH_CONFIG": "{}", "SENTRY_DSN": "https://k@o1.sentry.io/1", "DATABASE_URL": "postgres://db/x",
                    "REDIS_URL": "redis://h", "PGPASSWORD": "p", "npm_config__authToken": "t", "NPM_TOKEN": "t",
                    "HTTP_AUTHORIZATION": "Basic x", "GPG_PASSPHRASE": "p", "MONGO_CONNECTION_STRING": "m",
                    "XDG_RUNTIME_DIR": "/run/user/0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/bus",
                    "DOCKER_HOST": "unix:///var/run/docker.sock", "ANY_NAME": "mysql://root:rootpw@db/app",
                    "BUILD_ID_TOKEN": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}
KEPT_VARIABLES = {"PWD": "/src", "OLDPWD": "/", "GIT_AUTHOR_NAME": "A", "PASSAGE": "x", "KEYBOARD": "us",
                  "HTTP_PROXY": "http://proxy:3128", "PYTHONPATH": "/src", "COMPASS_MODE": "on"}


def test_scrub_env_drops_what_a_user_calls_a_secret_and_keeps_what_is_allowed() -> None:
    env = {**SECRET_VARIABLES, **KEPT_VARIABLES}
    assert scrub_env(env) == KEPT_VARIABLES
    assert scrub_env(env, allow=["DB_PASS"]) == {**KEPT_VARIABLES, "DB_PASS": "hunter22"}


@pytest.mark.parametrize("mode", MODES)
def test_child_environment_carries_no_keys(tmp_path: Path, mode: SandboxMode,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "value-of-the-fake-key-1234")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "value-of-the-token-5678")
    monkeypatch.setenv("KEEP_ME", "visible")
    outcome = run("env", tmp_path, mode)
    assert "value-of-the-fake-key-1234" not in outcome.output
    assert "value-of-the-token-5678" not in outcome.output
    assert "KEEP_ME=visible" in outcome.output
    assert "PATH=" in outcome.output


@pytest.mark.parametrize("mode", MODES)
def test_timeout_kills_the_whole_process_group(tmp_path: Path, mode: SandboxMode) -> None:
    marker = f"{60 + uuid.uuid4().int % 1000 / 1000:.3f}"  # a unique argument to find the grandchild by
    cmd = f"sleep {marker} & echo $! > grandchild.pid; echo started; wait"
    started = time.monotonic()
    outcome = run(cmd, tmp_path, mode, timeout_s=1.0)
    assert outcome.timed_out and outcome.exit_code is None
    assert time.monotonic() - started < 10
    assert "started" in outcome.output
    assert processes_with(f"sleep {marker}") == []
    if mode == "none":  # outside a pid namespace the recorded pid is the host pid
        assert not alive(int((tmp_path / "grandchild.pid").read_text()))


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = run("trap '' TERM; echo stubborn; while true; do sleep 0.1; done", tmp_path, "none", timeout_s=0.5)
    assert outcome.timed_out and "stubborn" in outcome.output
    assert 2.0 <= time.monotonic() - started < 8


def test_background_stragglers_do_not_hold_the_run(tmp_path: Path) -> None:
    marker = f"{70 + uuid.uuid4().int % 1000 / 1000:.3f}"
    started = time.monotonic()
    outcome = run(f"sleep {marker} & echo done", tmp_path, "none", timeout_s=30)
    assert (outcome.exit_code, outcome.timed_out, outcome.output) == (0, False, "done\n")
    assert time.monotonic() - started < 5
    assert processes_with(f"sleep {marker}") == []


@pytest.mark.parametrize("mode", MODES)
def test_output_is_capped_while_read(tmp_path: Path, mode: SandboxMode) -> None:
    cmd = f"{PY} -c \"import sys; [sys.stdout.write(f'line {{n}} ' + 'z' * 90 + chr(10)) for n in range(50000)]\""
    outcome = run(cmd, tmp_path, mode, cap=10_000)
    assert outcome.exit_code == 0
    assert len(outcome.output) < 10_200
    assert outcome.output.startswith("line 0 zzz")
    assert outcome.output.rstrip("\n").endswith("line 49999 " + "z" * 90)
    assert "characters (" in outcome.output and "lines) omitted ...]" in outcome.output


def test_mode_auto_matches_detection(tmp_path: Path) -> None:
    outcome = run("true", tmp_path, "auto")
    assert outcome.sandboxed is BWRAP.available
    assert (outcome.warning is None) is BWRAP.available
    assert detect_sandbox() is BWRAP  # probed once, then cached



def test_jobs_asking_at_once_share_one_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's jobs reach their first test run together: one bwrap probe serves them all."""
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho probe >> {shlex.quote(str(calls))}\nsleep 0.2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    sandbox._probe.cache_clear()
    try:
        found: list[object] = []
        jobs = [threading.Thread(target=lambda: found.append(detect_sandbox())) for _ in range(8)]
        for job in jobs:
            job.start()
        for job in jobs:
            job.join()
        assert calls.read_text().splitlines() == ["probe"]
        assert len(found) == 8 and all(info is found[0] for info in found)
        assert "bubblewrap works" in found[0].detail  # type: ignore[attr-defined]
    finally:
        sandbox._probe.cache_clear()  # the next test probes the real bwrap again


# --- inside bubblewrap ----------------------------------------------------------------------------

@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "wt")


@needs_bwrap
def test_no_network_inside(worktree: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = f"{PY} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\""
        assert "connected" in run(probe, worktree, "none").output  # the probe works outside
        inside = run(probe, worktree, "bwrap")
    assert inside.exit_code != 0 and "connected" not in inside.output
    assert "ConnectionRefusedError" in inside.output or "Network is unreachable" in inside.output


@needs_bwrap
def test_only_the_worktree_and_a_private_tmp_are_writable(worktree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    tmp_name = f"/tmp/sandbox-probe-{uuid.uuid4().hex}"
    cmd = (f"echo inside > made_here.txt; echo private > {tmp_name}; cat {tmp_name}; "
           f"echo leak > {outside}/leak.txt || echo outside-refused; "
           f"touch /usr/leak 2>/dev/null || echo usr-refused")
    outcome = run(cmd, worktree, "bwrap")
    assert (worktree / "made_here.txt").read_text() == "inside\n"
    assert "private" in outcome.output and not os.path.exists(tmp_name)
    assert "outside-refused" in outcome.output and not (outside / "leak.txt").exists()
    assert "usr-refused" in outcome.output


@needs_bwrap
def test_no_remounting_the_read_only_system(worktree: Path, tmp_path: Path) -> None:
    escaped = tmp_path / "escaped"
    outcome = run(f"mount -o remount,bind,rw / && touch {escaped}; grep CapEff /proc/self/status", worktree, "bwrap")
    assert not escaped.exists()
    assert "CapEff:\t0000000000000000" in outcome.output


@needs_bwrap
def test_home_is_empty_so_ssh_keys_are_invisible(worktree: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE\n")
    (home / ".gitconfig").write_text("[user]\n")
    outcome = run("ls -A \"$HOME\"; cat \"$HOME/.ssh/id_rsa\" || echo no-key", worktree, "bwrap", env={"HOME": str(home)})
    assert "PRIVATE" not in outcome.output and "no-key" in outcome.output
    assert ".gitconfig" not in outcome.output


@needs_bwrap
def test_git_metadata_is_read_only(worktree: Path) -> None:
    outcome = run("touch .git/hacked || echo git-refused; git log --oneline | wc -l", worktree, "bwrap")
    assert "git-refused" in outcome.output and not (worktree / ".git" / "hacked").exists()
    assert outcome.output.strip().endswith("1")  # reading git still works


@needs_bwrap
def test_linked_worktree_git_file_and_main_repo_are_read_only(worktree: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    git(worktree, "worktree", "add", "-q", str(linked), "-b", "side")
    cmd = ("echo 'gitdir: /tmp/evil' > .git || echo gitfile-refused; "
           f"touch {worktree}/.git/worktrees/hacked || echo main-refused; "
           "echo fine > new.txt; git status --porcelain")
    outcome = run(cmd, linked, "bwrap")
    assert "gitfile-refused" in outcome.output and "main-refused" in outcome.output
    assert (linked / ".git").read_text().startswith(f"gitdir: {worktree}")
    assert (linked / "new.txt").read_text() == "fine\n"
    assert "?? new.txt" in outcome.output  # git inside still reads the repository


@needs_bwrap
def test_python_toolchain_still_runs_inside(worktree: Path) -> None:
    outcome = run(f"{PY} -c \"import pydantic, tools.registry; print('ok')\"", worktree, "bwrap")
    assert outcome.output.strip() == "ok", outcome.output


def test_the_projects_virtualenv_runs_pytest_when_it_has_pytest(tmp_path: Path) -> None:
    from tools.testdetect import detect_test_command

    repo = make_repo(tmp_path / "project")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("")
    assert detect_test_command(repo).command == f"{shlex.quote(sys.executable)} -m pytest -q"
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (repo / ".venv" / "bin" / "python").symlink_to(sys.executable)
    assert detect_test_command(repo).command == f"{shlex.quote(sys.executable)} -m pytest -q"  # no pytest there
    (repo / ".venv" / "lib" / "python3.11" / "site-packages" / "pytest").mkdir(parents=True)
    assert detect_test_command(repo).command == f"{repo / '.venv' / 'bin' / 'python'} -m pytest -q"
