"""The journal's copy of what a process publishes, batched.

Every message a transport publishes, and every journal record of its actors, is kept in
the journal. Copying each one through the broker (a stream bound to every routing key)
would double the broker's work and make every message routable, hiding the unroutable
ones; so the transport gathers the bytes and sends them as one `PublishedBatch` record to
the key `journal` every `max_messages` messages or `max_seconds` seconds, and on close. A process that dies loses
at most its last unsent batch from the journal (never from the mailboxes).
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Callable

from actors.runtime.clock import Clock, TimerHandle
from messages import JOURNAL, Envelope, PublishedBatch


class JournalCopies:
    def __init__(
        self,
        record: Callable[[Envelope], None],
        clock: Clock,
        max_messages: int = 256,
        max_seconds: float = 0.2,
        user: str = "",
    ) -> None:
        self._record = record
        self.user = user  # the connection's user, who published the copies (replay's sender_user)
        self._clock = clock
        self._max_messages = max_messages
        self._max_seconds = max_seconds
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._timer: TimerHandle | None = None
        self._prefix = f"copies-{os.urandom(6).hex()}"
        self._ids = itertools.count(1)

    def add(self, body: bytes) -> None:
        with self._lock:
            self._pending.append(body)
            full = len(self._pending) >= self._max_messages
            if not full and self._timer is None:
                self._timer = self._clock.call_later(self._max_seconds, self.flush)
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if batch:
            self._record(
                Envelope(
                    id=f"{self._prefix}-{next(self._ids)}",
                    sender="transport",
                    target=JOURNAL,
                    body=PublishedBatch(tuple(batch), user=self.user),
                    sent_at=self._clock.now(),
                )
            )
