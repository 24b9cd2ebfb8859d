"""One run per folder at a time: a lock file held with the kernel's advisory lock.

`OUT/.lock` holds the PID and host of the process that trains in OUT. The lock itself is an
`fcntl.flock` on that file, which the kernel drops when the process ends in any way (SIGKILL,
a crash, a preempted node), so a lock file left by a killed run is stale by construction: the
next run acquires the lock, says that it takes the folder over, and writes its own PID. A
second run while the first is alive is refused with the first's PID. (On systems without
fcntl, e.g. Windows, the PID in the file is checked for a live process instead.)
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import TracebackType

from canvasmar.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK = ".lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_owner(path: Path) -> tuple[int | None, str]:
    try:
        pid, _, host = path.read_text().strip().partition(" ")
        return int(pid), host
    except (OSError, ValueError):
        return None, ""


class RunLock:
    """`with RunLock(out):` holds OUT/.lock for the block; `previous_pid` is set when the
    lock was taken over from a run that no longer runs (a stale lock)."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK
        self.previous_pid: int | None = None
        self._file = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        pid, host = _read_owner(self.path)
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise UserError(self._busy_message(pid, host)) from None
        elif pid is not None and pid != os.getpid() and _pid_alive(pid):
            handle.close()
            raise UserError(self._busy_message(pid, host))
        if pid is not None and pid != os.getpid():
            self.previous_pid = pid  # its process is gone: a stale lock, taken over
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {socket.gethostname()}\n")
        handle.flush()
        self._file = handle
        return self

    def _busy_message(self, pid: int | None, host: str) -> str:
        who = f"process {pid}" + (f" on {host}" if host else "") if pid else "another process"
        return (f"{self.path.parent} is in use by a run of {who} (lock {self.path}); wait for "
                f"it to finish or stop it, or choose another --out")

    def release(self) -> None:
        if self._file is None:
            return
        try:  # emptied, not deleted: a process that opened the file meanwhile keeps the
            # same inode to lock, and an empty file reads as "no previous run"
            self._file.seek(0)
            self._file.truncate()
            self._file.flush()
        finally:
            self._file.close()  # closing drops the flock
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
