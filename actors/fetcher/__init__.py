"""Mesos' fetcher for mesobus: before a command task starts, its `CommandInfo.uris` are put
into its sandbox (downloaded or copied, made executable, unpacked, cached).

>>> from actors.fetcher import FetcherConfig, FetchError, fetch_uris, start_fetcher

`start_fetcher` is what the command executor calls: a child process as the task's user
(`python -m actors.fetcher`) runs `fetch_uris`, and a thread reports the outcome.
"""

from actors.fetcher.config import FetcherConfig, FetchError, parse_size
from actors.fetcher.fetch import fetch_uri, fetch_uris
from actors.fetcher.process import FetcherRun, start_fetcher

__all__ = ["FetchError", "FetcherConfig", "FetcherRun", "fetch_uri", "fetch_uris", "parse_size", "start_fetcher"]
