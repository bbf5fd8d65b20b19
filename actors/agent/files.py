"""Sandbox files for the operator's HTTP API: list a directory, read a page of a file.

Paths are relative to the agent's work dir and must lie under `frameworks/` (where every
sandbox is): no absolute paths, no `..`, and a path whose real location (symlinks
followed) leaves the sandboxes of the framework it names is refused (a task's link into
another framework's sandbox leads nowhere: who may read which framework's sandboxes is
decided by that name). A read returns at most MAX_PAGE bytes, so a
1 GB stdout is read a page at a time, never whole.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "frameworks/f1").mkdir(parents=True)
>>> _ = (root / "frameworks/f1/stdout").write_text("hello")
>>> SandboxFiles(root).read(ReadSandboxFile("frameworks/f1/stdout", 1, 3))
SandboxFileData(data=b'ell', size=5, offset=1, error='')
>>> SandboxFiles(root).read(ReadSandboxFile("frameworks/../../etc/passwd")).error
"path 'frameworks/../../etc/passwd': '..' is not allowed"
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from messages.operator import ListSandbox, ReadSandboxFile, SandboxEntry, SandboxFileData, SandboxListing

MAX_PAGE = 1 << 20  # bytes per read
MAX_ENTRIES = 10000  # per listing


class SandboxFiles:
    """Reads under `root`/frameworks only (see the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _resolve(self, path: str) -> tuple[Path | None, str]:
        real, why, _ = self._confined(path)
        return real, why

    def _confined(self, path: str) -> tuple[Path | None, str, Path]:
        """(the real path, why not, the directory it must stay in)."""
        sandboxes = (self.root / "frameworks").resolve()
        if not isinstance(path, str) or not path or len(path) > 4096 or "\x00" in path:
            return None, "expected a path", sandboxes
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if path.startswith("/"):
            return None, f"path {path!r}: expected a path relative to the sandboxes", sandboxes
        if ".." in parts:
            return None, f"path {path!r}: '..' is not allowed", sandboxes
        if not parts or parts[0] != "frameworks":
            return None, f"path {path!r}: not in a sandbox", sandboxes
        confine = sandboxes / parts[1] if len(parts) > 1 else sandboxes
        real = (self.root.joinpath(*parts)).resolve()
        if not _within(real, confine):
            return None, f"path {path!r}: leads out of its framework's sandboxes", confine
        if not real.exists():
            return None, f"path {path!r}: no such file or directory", confine
        return real, "", confine

    def _relative(self, real: Path) -> str:
        return real.relative_to(self.root.resolve()).as_posix()

    def list(self, msg: ListSandbox) -> SandboxListing:
        real, why = self._resolve(msg.path)
        if real is None:
            return SandboxListing(error=why)
        try:
            children = sorted(real.iterdir())[:MAX_ENTRIES] if real.is_dir() else [real]
            base = msg.path.rstrip("/")
            entries = []
            for child in children:
                info = child.lstat()
                rel = f"{base}/{child.name}" if real.is_dir() else base
                entries.append(SandboxEntry(rel, info.st_size, info.st_mtime, stat.filemode(info.st_mode),
                                            info.st_nlink, str(info.st_uid), str(info.st_gid)))
        except OSError as err:
            return SandboxListing(error=f"path {msg.path!r}: {err.strerror}")
        return SandboxListing(tuple(entries))

    def read(self, msg: ReadSandboxFile) -> SandboxFileData:
        real, why, confine = self._confined(msg.path)
        if real is None:
            return SandboxFileData(error=why)
        if real.is_dir():
            return SandboxFileData(error=f"path {msg.path!r}: is a directory")
        try:
            # A task owns its sandbox: O_NONBLOCK so that its FIFO cannot hang this (the
            # agent's) thread in open(); O_NOFOLLOW and the check of what was opened so
            # that a link swapped in since _resolve() leads nowhere else.
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as err:
            return SandboxFileData(error=f"path {msg.path!r}: {err.strerror}")
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return SandboxFileData(error=f"path {msg.path!r}: not a regular file")
            if not _within(Path(os.readlink(f"/proc/self/fd/{fd}")), confine):
                return SandboxFileData(error=f"path {msg.path!r}: leads out of its framework's sandboxes")
            size = info.st_size
            if msg.offset < 0:
                return SandboxFileData(size=size, offset=size)
            offset = min(msg.offset, size)
            data = os.pread(fd, max(0, min(msg.length, MAX_PAGE)), offset)
        except OSError as err:
            return SandboxFileData(error=f"path {msg.path!r}: {err.strerror}")
        finally:
            os.close(fd)
        return SandboxFileData(data, size, offset)


def _within(real: Path, directory: Path) -> bool:
    return real == directory or directory in real.parents
