"""One agent per work dir: `WORK_DIR/agent.lock` is held (flock) while an agent runs.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with WorkDirLock(d):
...     try:
...         WorkDirLock(d).acquire()
...     except WorkDirBusy as busy:
...         print(str(busy).replace(d, "DIR").split(" (pid")[0])
the work dir DIR is in use by another agent

Two agents on one work dir would share its checkpoint and sandboxes, and the master's
view of the agent would be wrong. The lock is the kernel's (`fcntl.flock`), so a crashed
or killed agent releases it with its file descriptors; the file holds the holder's pid
so that the refusal can name it. Like Mesos' agent, the lock covers the agent process,
not its executors (which outlive an agent restart).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

LOCK_FILE = "agent.lock"


class WorkDirBusy(RuntimeError):
    """Another live process holds the work dir's lock."""


class WorkDirLock:
    """The lock on `work_dir` (made if missing); `acquire()` or `with`."""

    def __init__(self, work_dir: str | os.PathLike[str]) -> None:
        self.work_dir = Path(work_dir)
        self.path = self.work_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "WorkDirLock":
        """Take the lock without waiting; WorkDirBusy names the holder's pid, OSError
        says why the work dir cannot be used (not a directory, no permission)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkDirBusy(
                f"the work dir {self.work_dir} is in use by another agent (pid {holder})"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (harmless, reused)
            self._fd = None

    def __enter__(self) -> "WorkDirLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
