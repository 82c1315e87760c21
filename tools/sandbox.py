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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from agent.errors import UserError
from tools.project_env import ProjectEnv, find_project_env
from tools.sandbox_caches import cache_plan
from tools.sandbox_env import scrub_env
from tools.sandbox_mounts import LayoutRequest, bwrap_mount_args, sandbox_layout
from tools.trim import omitted_marker

SandboxMode = Literal["auto", "bwrap", "none"]
KILL_GRACE_S = 2.0
# After the command exits, how long to keep reading from background processes still holding its output.
DRAIN_GRACE_S = 0.5
NOT_SANDBOXED = "tests ran WITHOUT a sandbox (bubblewrap unavailable or disabled): network and file writes were not restricted"


class SandboxUnavailable(UserError):
    """The configuration demands bubblewrap, and it cannot run here."""


@dataclass(frozen=True)
class SandboxInfo:
    kind: Literal["bwrap", "none"]
    available: bool
    detail: str


@dataclass(frozen=True)
class SandboxPolicy:
    """What the user configured for the sandbox, and what one kind of run needs of it."""

    env_allow: tuple[str, ...] = ()  # sandbox_env_allow: variables kept although they look secret
    mounts: tuple[str, ...] = ()  # sandbox_mounts: host folders shown read-only
    network: bool = False  # the setup command downloads; tests never get the network
    dependencies: bool = True  # show the checkout's dependency folders (not while setup installs them)
    hidden: tuple[str, ...] = ()  # paths in the worktree shown empty: the user's untracked files of a run in place
    # The worktree whose project environment (checkout, virtualenv, dependency folders) a command run
    # in a scratch copy of it uses; None: the folder the command runs in.
    project_of: Path | None = None


@dataclass
class RunOutcome:
    exit_code: int | None  # None when the command was killed by the timeout
    output: str  # stdout and stderr interleaved, capped with a marker in the middle
    timed_out: bool
    sandboxed: bool
    warning: str | None
    duration_s: float


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


def bwrap_argv(cmd: str, cwd: Path, layout: LayoutRequest, *, network: bool = False) -> list[str]:
    """The bubblewrap command line that runs `cmd` in `cwd` with only what `layout` shows of the host."""
    flags = _namespace_flags()
    if network:
        flags.remove("--unshare-net")
    mounts = sandbox_layout(layout)
    return ["bwrap", *flags, *bwrap_mount_args(mounts), "--chdir", str(Path(os.path.realpath(cwd))),
            "/bin/sh", "-c", cmd]


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


@dataclass
class Prepared:
    """A command made ready to start: its argv (bubblewrap's or a plain shell's) and environment, and
    the empty mount-point folders bubblewrap needs, to remove once it has ended."""

    argv: list[str]
    env: dict[str, str]
    sandboxed: bool
    made: list[Path]

    def cleanup(self) -> None:
        _remove_mount_points(self.made)


def prepare_sandboxed(cmd: str, cwd: Path, *, mode: SandboxMode, policy: SandboxPolicy = SandboxPolicy(),
                      extra_env: Mapping[str, str] | None = None) -> Prepared:
    """How to run shell command `cmd` in `cwd`: sandboxed when `mode` allows and bubblewrap works."""
    use_bwrap = mode == "bwrap" or (mode == "auto" and detect_sandbox().available)
    if mode == "bwrap" and not detect_sandbox().available:
        raise SandboxUnavailable(f"sandbox = \"bwrap\" is configured but {detect_sandbox().detail}")
    env = {**scrub_env(os.environ, policy.env_allow), **(extra_env or {})}
    home = _home(env)
    project = find_project_env(cwd, home) if policy.project_of is None else \
        find_project_env(policy.project_of, home).for_copy(policy.project_of)
    env.update(project_variables(project, env, policy))
    if not use_bwrap:
        return Prepared(["/bin/sh", "-c", cmd], env, False, [])
    env["TMPDIR"] = "/tmp"  # the only writable temp dir inside
    caches = cache_plan(policy.project_of or cwd, home, env)  # a scratch copy uses its worktree's caches
    env.update(caches.variables)
    layout = LayoutRequest(cwd, home, env.get("PATH", ""), policy.mounts,
                           project if policy.dependencies else ProjectEnv(checkout=project.checkout), caches,
                           policy.hidden)
    made = [dest for _, dest in layout.project.dependency_mounts(Path(os.path.realpath(cwd))) if not dest.exists()]
    return Prepared(bwrap_argv(cmd, cwd, layout, network=policy.network), env, True, made)


def run_sandboxed(cmd: str, cwd: Path, *, timeout_s: float, mode: SandboxMode, output_cap: int,
                  extra_env: Mapping[str, str] | None = None, policy: SandboxPolicy = SandboxPolicy()) -> RunOutcome:
    """Run shell command `cmd` in `cwd`: sandboxed when `mode` allows and bubblewrap works."""
    prepared = prepare_sandboxed(cmd, cwd, mode=mode, policy=policy, extra_env=extra_env)
    argv, env, use_bwrap = prepared.argv, prepared.env, prepared.sandboxed
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        output = CappedOutput(output_cap)
        timed_out = _pump(proc, output, started + timeout_s)
    finally:
        prepared.cleanup()
    duration = time.monotonic() - started
    text = output.text()
    warning = None if use_bwrap else NOT_SANDBOXED
    missing = missing_tool(text, proc.returncode, sandboxed=use_bwrap) if not timed_out else None
    return RunOutcome(exit_code=None if timed_out else proc.returncode, output=text, timed_out=timed_out,
                      sandboxed=use_bwrap, warning="; ".join(w for w in (missing, warning) if w) or None,
                      duration_s=duration)


def _home(env: Mapping[str, str]) -> Path | None:
    home = env.get("HOME")
    if not home or not os.path.isabs(home):
        return None
    real = Path(os.path.realpath(home))
    return real if real != Path("/") and real.is_dir() else None


def project_variables(project: ProjectEnv, env: Mapping[str, str], policy: SandboxPolicy) -> dict[str, str]:
    """The variables that put the project's own environment first: its virtualenv on PATH."""
    variables: dict[str, str] = {}
    if project.venv is not None:
        variables["VIRTUAL_ENV"] = str(project.venv)
        variables["PATH"] = os.pathsep.join([*project.path_entries(), env.get("PATH", os.defpath)])
    if not policy.network:
        variables["CARGO_NET_OFFLINE"] = "true"  # use the crates already downloaded; there is no network
    return variables


def _remove_mount_points(made: list[Path]) -> None:
    """Remove the empty folders bubblewrap created in the worktree to mount dependency folders on."""
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty or already gone: something the command itself put there


# The shell's and env's words for a command that is not on PATH.
_NOT_FOUND = re.compile(r"^(?:\S*sh: (?:\d+: )?(?:line \d+: )?|env: |exec: )'?([\w.+-]+)'?: (?:command )?not found",
                        re.MULTILINE)
_INSTALL_HINTS = {"cargo": "set up rustup", "rustc": "set up rustup", "go": "install Go", "node": "install Node.js",
                  "npm": "install Node.js", "npx": "install Node.js", "mvn": "install Maven", "gradle": "install Gradle",
                  "java": "install a JDK", "cmake": "install CMake", "ctest": "install CMake", "make": "install make"}


def missing_tool(output: str, exit_code: int | None, *, sandboxed: bool) -> str | None:
    """One line naming the program the command could not find, and what to do about it."""
    found = _NOT_FOUND.search(output) if exit_code == 127 else None
    if found is None:
        return None
    name = found.group(1)
    where = "inside the sandbox" if sandboxed else "on PATH"
    host = shutil.which(name)
    if sandboxed and host is not None:
        return f"{name}: not found inside the sandbox (it is {host} on this machine); add its folder to sandbox_mounts"
    hint = _INSTALL_HINTS.get(name, f"install {name}")
    return f"{name}: not found {where}; {hint} or add its path to sandbox_mounts"


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
                kill_group(proc.pid, grace_s=0)  # stragglers holding the pipe open
                return False
            if exited_at is None and now >= deadline:
                kill_group(proc.pid, grace_s=KILL_GRACE_S, proc=proc)
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
        kill_group(proc.pid, grace_s=KILL_GRACE_S, proc=proc)
        return True


def kill_group(pgid: int, *, grace_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
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
