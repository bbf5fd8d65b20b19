"""The journal's copy of what a process publishes, batched.

Every message a transport publishes, and every journal record of its actors, is kept in
the journal. Copying each one through the broker (a stream bound to every routing key)
would double the broker's work and make every message routable, hiding the unroutable
ones; so the transport gathers the bytes and sends them as one `PublishedBatch` record to
the key `journal` every `max_messages` messages or `max_seconds` seconds, and on close. A process that dies loses
at most its last unsent batch from the journal (never from the mailboxes).

Off means off (`--no-journal`): `stop()` for good (`?journal=0`, or the master's
`--no-journal`), `pause(seconds)` when the broker says no journal stream is bound (a
batch came back unroutable): nothing is then gathered, encoded or sent; `on` says which.
After a pause copying starts again, and a batch that comes back pauses it again.
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
        self.on = True  # read without the lock: a stale read costs one copy more or less
        self._stopped = False
        self._resume: TimerHandle | None = None

    def stop(self) -> None:
        """No journal for this process: drop what is pending, gather nothing from now on."""
        self._stopped = True
        self.pause(None)

    def pause(self, seconds: float | None) -> None:
        """No journal stream is bound: gather nothing for `seconds` (None: for good)."""
        with self._lock:
            self.on = False
            self._pending = []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if seconds is not None and self._resume is None and not self._stopped:
                self._resume = self._clock.call_later(seconds, self._resumed)

    def _resumed(self) -> None:
        with self._lock:
            self._resume = None
            self.on = not self._stopped

    def close(self) -> None:
        with self._lock:
            if self._resume is not None:
                self._resume.cancel()
                self._resume = None

    def add(self, body: bytes) -> None:
        if not self.on:
            return
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
