"""What the HTTP API reads: this master's snapshot publisher while it leads, and where the
leader's HTTP API is while it stands by.

>>> source = MasterSource("10.0.0.1:5050")
>>> source.leading, source.leader_address()
(False, None)
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any, Callable

from actors.master.feed import TaskFeed
from actors.master.snapshot import Snapshot, SnapshotPublisher

Send = Callable[[Any, float], "Future[Any]"]  # (message to the master, timeout) -> its answer's body


class MasterSource:
    """Set up before the master leads (a standby serves too); `lead()` once it does."""

    def __init__(self, http_address: str, leader_lookup: Callable[[], str | None] | None = None) -> None:
        self.http_address = http_address  # host:port this API is reached at
        self.leader_lookup = leader_lookup or (lambda: None)
        self.publisher: SnapshotPublisher | None = None
        self.send: Send | None = None
        self.files: Any = None  # a sandbox file reader (actors/operator/files.py), when wired
        self.explain: Callable[[], Any] | None = None  # the allocator's latest Explanation
        self.started = time.time()

    def lead(self, publisher: SnapshotPublisher, send: Send | None = None) -> None:
        self.publisher, self.send = publisher, send

    def stand_down(self) -> None:
        self.publisher = self.send = self.explain = None

    @property
    def leading(self) -> bool:
        return self.publisher is not None

    def snapshot(self) -> Snapshot | None:
        publisher = self.publisher
        return publisher.latest() if publisher is not None else None

    def fresh_snapshot(self) -> Snapshot | None:
        """A picture built after this call began (for a SUBSCRIBE stream's start)."""
        publisher = self.publisher
        if publisher is None:
            return None
        publisher.expire()
        return publisher.latest()

    @property
    def feed(self) -> TaskFeed | None:
        """Every task change between pictures (actors/master/feed.py), while leading."""
        publisher = self.publisher
        return publisher.feed if publisher is not None else None

    def leader_address(self) -> str | None:
        """host:port of the leading master's HTTP API (this one's when it leads)."""
        if self.leading:
            return self.http_address
        try:
            return self.leader_lookup()
        except Exception:  # noqa: BLE001  the lookup talks to the broker: no answer is an answer
            return None
