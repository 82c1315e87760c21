"""Run ownership: one process at a time writes a run's journal and works in its checkout.

The lock is an `flock` on `<run folder>/lock` (a batch also holds one on its results file). The kernel releases it when its process ends, however
it ends (exit, crash, SIGKILL), so a dead run is never left locked; while its process lives, a second
`agent resume` of the run, or a resume of a run that is still going, is refused.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from agent.errors import UserError

LOCK_NAME = "lock"


class RunBusy(UserError):
    """Another process owns the run."""


class RunLock:
    """The exclusive, non-blocking lock of one run folder; `release` (or the process's end) frees it."""

    def __init__(self, fd: int, path: Path):
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, folder: Path) -> RunLock:
        """Own the run in `folder`; RunBusy naming the owner's pid when another process owns it."""
        return cls._take(folder / LOCK_NAME, f"run {folder.name}", record_pid=True)

    @classmethod
    def acquire_file(cls, path: Path, what: str) -> RunLock:
        """Own `path` itself (created when missing, its content untouched); RunBusy naming `what`."""
        return cls._take(path, what, record_pid=False)

    @classmethod
    def _take(cls, path: Path, what: str, *, record_pid: bool) -> RunLock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(fd) if record_pid else ""
            os.close(fd)
            raise RunBusy(f"{what} is in use by another agent process{owner}; "
                          f"wait for it to end (or stop it), then try again") from None
        except BaseException:
            os.close(fd)
            raise
        if record_pid:  # only for the message a second process shows; the lock itself is the flock
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Give the run up (closing the descriptor drops the flock); safe to repeat."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _read_owner(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return f" (pid {text})" if text.isdigit() else ""
