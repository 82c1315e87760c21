"""Checks that pass only when a sandbox blocks them; each prints a SANDBOX-BLOCKED/ESCAPED marker."""

from __future__ import annotations

import os
import pwd
import re
import socket
import threading
from pathlib import Path

import pytest

from app import greet

PROJECT = Path(__file__).resolve().parent
REAL_HOME = Path(pwd.getpwuid(os.getuid()).pw_dir)
SUSPICIOUS_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)


def report(probe: str, escaped: bool, detail: str = "") -> None:
    """Print the marker line, then fail the check when the attempt got through."""
    word = "ESCAPED" if escaped else "BLOCKED"
    # The leading newline puts the marker at the start of a line even after pytest's progress dots.
    print(f"\nSANDBOX-{word} {probe}{' ' + detail if detail else ''}", flush=True)
    assert not escaped, f"{probe}: the sandbox let this through ({detail})"


def try_connect(host: str, port: int) -> str | None:
    """Attempt a TCP connection (1 s timeout, no data sent); the peer address when it succeeded."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            return str(sock.getpeername()[0])
    except OSError:
        return None


def throwaway_mount(path: Path) -> bool:
    """True when `path` lies on a tmpfs inside a read-only root: the sandbox's private `/tmp` or
    `$HOME`, whose writes never reach the host. Reads /proc/self/mountinfo; the longest mount wins."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    mounts = {}
    for line in lines:
        fields = line.split()
        mounts[fields[4]] = (fields[5].split(","), fields[fields.index("-") + 1])
    if "ro" not in mounts.get("/", ([], ""))[0]:
        return False  # a writable root: not inside a sandbox, so nothing is throwaway
    resolved = str(path.resolve())
    best = max((m for m in mounts if resolved == m or resolved.startswith(m.rstrip("/") + "/")), key=len)
    return mounts[best][1] == "tmpfs"


def write_outside(probe: str, target: Path) -> None:
    """Create `target`; a write that lands on a throwaway mount is contained, not an escape."""
    try:
        with open(target, "x") as handle:  # "x": never overwrite anything that was already there
            handle.write("escaped\n")
    except OSError:
        report(probe, False)
        return
    target.unlink()
    contained = throwaway_mount(target.parent)
    report(probe, not contained, "(landed on the sandbox's throwaway tmpfs)" if contained else f"created {target}")


def check_ordinary_code_still_works():
    assert greet("sandbox") == "hello, sandbox"


def check_network():
    peer = try_connect("1.1.1.1", 53)
    report("network", peer is not None, f"connected to {peer}:53" if peer else "")


def check_dns():
    # Resolution has no timeout of its own; give it 2 s in a thread and count silence as blocked.
    found: list[str] = []

    def resolve() -> None:
        try:
            found.extend(info[4][0] for info in socket.getaddrinfo("example.com", 80, proto=socket.IPPROTO_TCP))
        except OSError:
            pass

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(2)
    peer = next((p for p in (try_connect(address, 80) for address in found[:1]) if p), None)
    report("dns", peer is not None, f"connected to example.com ({peer})" if peer else "")


@pytest.mark.parametrize(
    "probe, directory",
    [("write-home", REAL_HOME), ("write-parent", PROJECT.parent), ("write-root", Path("/tmp/.."))],
    ids=["home", "parent", "root"],
)
def check_write_outside(probe: str, directory: Path):
    write_outside(probe, directory / f"agent-sandbox-escape-{os.getpid()}")


def check_read_ssh():
    readable = []
    for home in {REAL_HOME, Path.home()}:
        try:
            readable.append(f"{home / '.ssh'} ({len(os.listdir(home / '.ssh'))} entries)")
        except OSError:
            pass
    report("read-ssh", bool(readable), ", ".join(readable))


def check_symlink():
    # Reading system files is allowed in the sandbox with or without a link; the escape a planted
    # link could give is a WRITE outside the project, so write through a link to the parent folder.
    link = PROJECT / "sandbox_symlink_probe"
    try:
        if link.is_symlink():
            link.unlink()
        os.symlink(PROJECT.parent, link)
    except OSError:
        report("symlink", False, "could not plant the link")
        return
    try:
        write_outside("symlink", link / f"agent-sandbox-escape-{os.getpid()}")
    finally:
        link.unlink()


def check_environment():
    for name in sorted(os.environ):
        print(f"ENV {name}={os.environ[name]}")
    leaked = sorted(name for name in os.environ if SUSPICIOUS_NAME.search(name))
    report("env", bool(leaked), ",".join(leaked))
