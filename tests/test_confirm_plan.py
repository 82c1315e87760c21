"""At a terminal, `agent run` shows the plan and asks before any step runs."""

from __future__ import annotations

import os
import pty
import select
import sys
import time

from agent.testing import ScriptedServer
from conftest import make_repo
from run_helpers import TEST_CMD, demo_script


def _run_at_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run `agent ARGS` on a pseudo-terminal, answer the plan question, return exit code and screen."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the agent
        os.execvp(sys.executable, [sys.executable, "-m", "agent", *args])
    screen, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[Y/n]" in screen:
                os.write(fd, answer)
                answered = True
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def test_declining_the_plan_runs_no_step_and_keeps_the_run_resumable(tmp_path):
    repo = make_repo(tmp_path / "calc", "calc_bug")
    with ScriptedServer(demo_script()) as server:
        code, screen = _run_at_a_terminal(
            ["run", "fix the median", "--repo", str(repo), "--base-url", server.base_url, "--test-cmd", TEST_CMD], b"n\r")
        executor_calls = len(server.requests_for("executor"))
    assert code == 130
    assert "carry out these 2 steps?" in screen and "agent resume" in screen
    assert executor_calls == 0
