"""The fetcher's settings (the agent's `--fetcher-*` flags) and its one error type.

>>> parse_size("512MB"), parse_size("2GiB"), parse_size("1000")
(536870912, 2147483648, 1000)
>>> parse_size("lots")
Traceback (most recent call last):
...
ValueError: 'lots' is not a size (bytes, or a number with KB, MB, GB or TB)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KB, MB, GB = 1024, 1024**2, 1024**3
DEFAULT_MAX_SIZE = 1 * GB  # per URI, and per archive's unpacked contents
DEFAULT_TIMEOUT = 300.0  # seconds for one URI's download (Mesos has only a 60 s stall timeout)
DEFAULT_CACHE_SIZE = 2 * GB  # Mesos' --fetcher_cache_size default
MAX_ARCHIVE_MEMBERS = 100_000

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": KB, "M": MB, "G": GB, "T": 1024**4}


class FetchError(Exception):
    """A URI could not be put into the sandbox; the text names the URI and says why."""


@dataclass(frozen=True)
class Owner:
    """The task's user, when it is not the fetcher's own: local files are read as this
    user (so a task gets only what its user may read), and what is fetched becomes its."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


def parse_size(text: str) -> int:
    """Bytes from `1000`, `64KB`, `512MB`, `2GiB`, `1T` (binary units, as Mesos' Bytes)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a size (bytes, or a number with KB, MB, GB or TB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass(frozen=True)
class FetcherConfig:
    """`max_size` bounds each download and what one archive unpacks to; `timeout` each
    URI's download; the cache (off when `cache_dir` is None or `cache_size` is 0) keeps
    at most `cache_size` bytes."""

    max_size: int = DEFAULT_MAX_SIZE
    timeout: float = DEFAULT_TIMEOUT
    cache_dir: Path | None = None
    cache_size: int = DEFAULT_CACHE_SIZE

    def __post_init__(self) -> None:
        if not isinstance(self.max_size, int) or self.max_size <= 0:
            raise ValueError(f"fetcher max size must be a positive number of bytes, not {self.max_size!r}")
        if not isinstance(self.timeout, (int, float)) or not 0 < self.timeout < float("inf"):
            raise ValueError(f"fetcher timeout must be a positive number of seconds, not {self.timeout!r}")
        if not isinstance(self.cache_size, int) or self.cache_size < 0:
            raise ValueError(f"fetcher cache size must be a non-negative number of bytes, not {self.cache_size!r}")

    @property
    def caches(self) -> bool:
        return self.cache_dir is not None and self.cache_size > 0

    def to_plain(self) -> dict[str, Any]:
        out = asdict(self)
        out["cache_dir"] = str(self.cache_dir) if self.cache_dir is not None else None
        return out

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> "FetcherConfig":
        cache_dir = data.get("cache_dir")
        return cls(
            max_size=int(data.get("max_size", DEFAULT_MAX_SIZE)),
            timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
            cache_dir=Path(cache_dir) if cache_dir else None,
            cache_size=int(data.get("cache_size", DEFAULT_CACHE_SIZE)),
        )
