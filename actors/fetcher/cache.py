"""The fetcher cache: URIs fetched with `cache: true` are kept under the agent's work dir
(`fetch-cache/<user>/`, one directory per task user, as Mesos keys its cache by user) and
copied from there the next time, without downloading. The whole cache holds at most
`size` bytes: the least recently used entries go first. Entries are never revalidated
(as in Mesos: change the URI to get a new version).

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> cache = FetcherCache(root / "alice", size=10)
>>> cache.lookup("http://h/a") is None
True
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from actors.fetcher.config import FetchError


class FetcherCache:
    def __init__(self, directory: Path, size: int) -> None:
        self.directory = directory
        self.size = size

    def entry(self, uri: str) -> Path:
        return self.directory / hashlib.sha256(uri.encode()).hexdigest()

    def lookup(self, uri: str) -> Path | None:
        """The cached file for `uri`, marked as just used, or None."""
        path = self.entry(uri)
        try:
            os.utime(path)
        except OSError:
            return None
        return path

    def keep(self, uri: str, fetched: Path) -> Path | None:
        """Move a fresh download into the cache (None when it is larger than the whole
        cache: it stays where it is); older entries make room."""
        length = fetched.stat().st_size
        if length > self.size:
            return None
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            trim(self.directory.parent, self.size - length)
            path = self.entry(uri)
            shutil.move(str(fetched), path)
        except OSError as err:
            raise FetchError(f"cannot keep it in the fetcher cache: {err}") from None
        return path


def trim(root: Path, size: int) -> None:
    """Remove least recently used entries under `root` (all users' directories this
    process may touch) until what is left holds at most `size` bytes."""
    entries = []
    try:
        users = [d for d in root.iterdir() if d.is_dir()]
    except OSError:
        return
    for user_dir in users:
        try:
            for entry in user_dir.iterdir():
                st = entry.lstat()
                entries.append((st.st_mtime, st.st_size, entry))
        except OSError:
            continue  # another user's: theirs to trim
    total = sum(e[1] for e in entries)
    for _, length, entry in sorted(entries, key=lambda e: e[0]):
        if total <= size:
            return
        try:
            entry.unlink()
            total -= length
        except OSError:
            continue

