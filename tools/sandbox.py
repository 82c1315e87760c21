"""Running a project's commands (its tests) in a sandbox: bubblewrap when it works, else a plain
subprocess with a warning. Either way the environment carries no credentials, output is capped
while it is read, and a timeout kills the whole process group."""

from __future__ import annotations

import functools
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from agent.errors import UserError
from tools.paths import SECRET_DIRS
from tools.trim import omitted_marker

SandboxMode = Literal["auto", "bwrap", "none"]
KILL_GRACE_S = 2.0
# After the command exits, how long to keep reading from background processes still holding its output.
DRAIN_GRACE_S = 0.5
# Names of environment variables that look like credentials; the child never sees them.
SECRET_ENV = re.compile(
    r"(^|_)(API_?KEY|KEYS?|KEY_ID|TOKENS?|PAT|AUTH)$|SECRET|PASSWORD|PASSWD|CREDENTIAL|^SSH_AUTH_SOCK$",
    re.IGNORECASE,
)
NOT_SANDBOXED = "tests ran WITHOUT a sandbox (bubblewrap unavailable or disabled): network and file writes were not restricted"
# Folders under $HOME that are shared by many programs: bind only the toolchain's own subfolder.
SHARED_HOME_DIRS = frozenset({".local", ".config", ".cache", ".var"})


class SandboxUnavailable(UserError):
    """The configuration demands bubblewrap, and it cannot run here."""


@dataclass(frozen=True)
class SandboxInfo:
    kind: Literal["bwrap", "none"]
    available: bool
    detail: str


@dataclass
class RunOutcome:
    exit_code: int | None  # None when the command was killed by the timeout
    output: str  # stdout and stderr interleaved, capped with a marker in the middle
    timed_out: bool
    sandboxed: bool
    warning: str | None
    duration_s: float


def scrub_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without any variable whose name looks like a key, token, secret or password."""
    return {name: value for name, value in env.items() if not SECRET_ENV.search(name)}


_probing = threading.Lock()


def detect_sandbox() -> SandboxInfo:
    """Whether bubblewrap can really build our sandbox here (containers often forbid namespaces).

    Probed once per process: the jobs of a batch that ask at the same moment wait for one probe.
    """
    with _probing:
        return _probe()


@functools.cache
def _probe() -> SandboxInfo:
    exe = shutil.which("bwrap")
    if exe is None:
        return SandboxInfo("bwrap", False, "bwrap is not installed (apt-get install bubblewrap)")
    probe = [exe, *_namespace_flags(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--tmpfs", "/tmp", "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxInfo("bwrap", False, f"bwrap could not be started: {exc}")
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[0]
        return SandboxInfo("bwrap", False, f"bwrap is installed but cannot create its namespaces here: {reason}")
    return SandboxInfo("bwrap", True, f"bubblewrap works ({exe}): network off, read-only system, private /tmp")


def _namespace_flags() -> list[str]:
    # --cap-drop ALL matters when we run as root: with its capabilities the child could simply
    # remount / read-write and walk out of the sandbox.
    return ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL"]


def bwrap_argv(cmd: str, cwd: Path, home: str | None, search_path: str = "") -> list[str]:
    """The bubblewrap command line that runs `cmd` with only `cwd` (and a private /tmp) writable."""
    cwd = Path(os.path.realpath(cwd))
    argv = ["bwrap", *_namespace_flags(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp"]
    # The private /tmp hides whatever lives there, a virtualenv included: bind the toolchain back.
    for keep in _toolchain_dirs(Path(os.path.realpath("/tmp")), search_path, exact=True):
        argv += ["--ro-bind", str(keep), str(keep)]
    real_home = Path(os.path.realpath(home)) if home and os.path.isabs(home) else None
    if real_home is not None and real_home != Path("/") and real_home.is_dir():
        argv += ["--tmpfs", str(real_home)]
        for keep in _toolchain_dirs(real_home, search_path):
            argv += ["--ro-bind", str(keep), str(keep)]
    argv += ["--bind", str(cwd), str(cwd)]
    for readonly in _git_dirs(cwd):
        argv += ["--ro-bind", str(readonly), str(readonly)]
    if real_home is not None:
        # The worktree may itself contain $HOME's credential folders (a repo at ~): hide them again.
        for secret in SECRET_DIRS:
            hidden = real_home / secret
            if hidden.is_dir() and (hidden == cwd or cwd in hidden.parents):
                argv += ["--tmpfs", str(hidden)]
    return [*argv, "--chdir", str(cwd), "/bin/sh", "-c", cmd]


@functools.cache
def _toolchain_dirs(home: Path, search_path: str, *, exact: bool = False) -> tuple[Path, ...]:
    """Folders under a hidden root (`$HOME`, `/tmp`) the command needs to run: the interpreter
    (pyenv, a venv), its import path (user site-packages, editable installs) and PATH entries such
    as ~/.local/bin. Under $HOME a tool's whole top folder is kept (~/.pyenv); with `exact`, only
    the folders themselves, so nothing else in a shared /tmp shows through."""
    wanted = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable), *sys.path,
              *search_path.split(os.pathsep)]
    keep: list[Path] = []
    for entry in wanted:
        if not entry or not os.path.isabs(entry):
            continue
        path = Path(os.path.realpath(entry))
        if home not in path.parents or not path.exists():
            continue
        top = path.relative_to(home).parts[0]
        if top in SECRET_DIRS:
            continue
        chosen = path if exact or top in SHARED_HOME_DIRS else home / top
        if chosen not in keep:
            keep.append(chosen)
    # Nested choices are covered by their parents; bind each tree once. Cached: the interpreter's
    # folders do not move while it runs, and resolving them costs milliseconds per test run.
    return tuple(p for p in keep if not any(other in p.parents for other in keep))


def _git_dirs(cwd: Path) -> list[Path]:
    """`.git` of the worktree, and for a linked worktree (`.git` is a file) the repository it points into."""
    dot_git = cwd / ".git"
    if not dot_git.exists():
        return []
    found = [dot_git]
    if dot_git.is_file():
        text = dot_git.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.removeprefix("gitdir:").strip())
            gitdir = gitdir if gitdir.is_absolute() else (cwd / gitdir)
            common = Path(os.path.realpath(gitdir / ".." / ".."))  # <repo>/.git/worktrees/<name>
            if common.is_dir() and common != cwd and cwd not in common.parents:
                found.append(common)
    return found


class CappedOutput:
    """Collects a stream's bytes keeping at most `cap` of them: the head and the tail."""

    def __init__(self, cap: int) -> None:
        self.head_cap = max(cap // 2, 0)
        self.tail_cap = max(cap - self.head_cap, 0)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.newlines = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.newlines += chunk.count(b"\n")
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    def text(self) -> str:
        omitted = self.total - len(self.head) - len(self.tail)
        head = self.head.decode("utf-8", "replace")
        if omitted <= 0:
            return head + self.tail.decode("utf-8", "replace")
        lines = self.newlines - self.head.count(b"\n") - self.tail.count(b"\n")
        tail = self.tail.decode("utf-8", "replace")
        sep = "" if head.endswith("\n") else "\n"
        return f"{head}{sep}{omitted_marker(omitted, lines)}\n{tail}"


def run_sandboxed(cmd: str, cwd: Path, *, timeout_s: float, mode: SandboxMode, output_cap: int,
                  extra_env: Mapping[str, str] | None = None) -> RunOutcome:
    """Run shell command `cmd` in `cwd`: sandboxed when `mode` allows and bubblewrap works."""
    env = scrub_env(os.environ)
    env.update(extra_env or {})
    use_bwrap = mode == "bwrap" or (mode == "auto" and detect_sandbox().available)
    if mode == "bwrap" and not detect_sandbox().available:
        raise SandboxUnavailable(f"sandbox = \"bwrap\" is configured but {detect_sandbox().detail}")
    if use_bwrap:
        env["TMPDIR"] = "/tmp"  # the only writable temp dir inside
        argv = bwrap_argv(cmd, cwd, env.get("HOME"), env.get("PATH", ""))
    else:
        argv = ["/bin/sh", "-c", cmd]
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    output = CappedOutput(output_cap)
    timed_out = _pump(proc, output, started + timeout_s)
    duration = time.monotonic() - started
    return RunOutcome(exit_code=None if timed_out else proc.returncode, output=output.text(), timed_out=timed_out,
                      sandboxed=use_bwrap, warning=None if use_bwrap else NOT_SANDBOXED, duration_s=duration)


def _pump(proc: subprocess.Popen[bytes], output: CappedOutput, deadline: float) -> bool:
    """Read `proc`'s output until it ends or `deadline` passes; True when it had to be killed."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > DRAIN_GRACE_S:
                _kill_group(proc.pid, grace_s=0)  # stragglers holding the pipe open
                return False
            if exited_at is None and now >= deadline:
                _kill_group(proc.pid, grace_s=KILL_GRACE_S, proc=proc)
                _drain(fd, output)
                return True
            ready, _, _ = select.select([fd], [], [], min(0.1, max(deadline - now, 0.0)))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:  # every writer has closed its end
                    return _wait_until(proc, deadline)
                output.feed(chunk)
    finally:
        proc.stdout.close()


def _drain(fd: int, output: CappedOutput) -> None:
    """Collect what the killed command left in the pipe, without waiting on escaped processes."""
    end = time.monotonic() + DRAIN_GRACE_S
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        output.feed(chunk)


def _wait_until(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
        return False
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, grace_s=KILL_GRACE_S, proc=proc)
        return True


def _kill_group(pgid: int, *, grace_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace_s`; reap the leader."""
    if grace_s > 0 and _signal_group(pgid, signal.SIGTERM):
        _wait_group_gone(pgid, grace_s, proc)
    if _signal_group(pgid, signal.SIGKILL):
        _wait_group_gone(pgid, 1.0, proc)
    if proc is not None:
        proc.wait()


def _wait_group_gone(pgid: int, limit_s: float, proc: subprocess.Popen[bytes] | None) -> None:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if proc is not None:
            proc.poll()  # reap the leader, or it lingers as a zombie member of the group
        if not _group_alive(pgid):
            return
        time.sleep(0.02)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running. Zombies do not count: in a container the
    init process may never reap orphans, and a zombie holds no resources worth waiting for."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return _signal_group(pgid, 0)
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
