"""What a returned journal batch means, asked of the broker.

A journal batch is published mandatory: it comes back when nothing is bound to the key
`journal`. That is the normal state of a cluster run without a journal stream (then
copying pauses), but also what a broker that has just restarted answers while its
stream is not up yet: dropping copies then would lose the journal records of the next
pause. So a return is a question: a passive declaration of the stream on its own
channel. No such queue (404 "no queue"): no journal here, copying pauses. Found,
"down or inaccessible" (also a 404), or no answer (the connection went): the batch is
kept and sent again a little later. After `MAX_RETRIES` returns in a row (none more
than QUIET_SECONDS apart) copying pauses anyway (a stream that exists but is not
bound), saying so.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

STREAM = "mesobus.journal"  # rabbitmq.journal.STREAM (not imported: that module is the readers')
RETRY_SECONDS = 1.0
MAX_RETRIES = 30
QUIET_SECONDS = 10.0  # a return after this long without one starts a new count


def _absent(reason: Any) -> bool:
    """The broker's 404 for a queue that does not exist ("no queue 'x' in vhost 'y'"),
    not the 404 of one that exists but is not up ("home node ... is down or
    inaccessible", what a restarted node says of its streams for a while)."""
    return getattr(reason, "reply_code", None) == 404 and "no queue" in str(getattr(reason, "reply_text", ""))


class JournalCheck:
    """Runs on the I/O thread (the publisher's return callback)."""

    def __init__(self, resend: Callable[[bytes], None], pause: Callable[[], None],
                 call_later: Callable[[float, Callable[[], None]], Any]) -> None:
        self._resend = resend  # publish the batch again (any thread)
        self._pause = pause  # no stream: copying pauses, what is pending is dropped
        self._call_later = call_later
        self._lock = threading.Lock()
        self._waiting: list[bytes] = []  # returned batches, until the broker answers
        self._asking = False
        self._retries = 0
        self._last = 0.0  # monotonic time of the last return
        self.connection: Any = None  # the open connection (set and cleared by the transport)

    def returned(self, body: bytes) -> None:
        now = time.monotonic()
        if now - self._last > QUIET_SECONDS:  # the returns before were another episode
            self._retries = 0
        self._last = now
        with self._lock:
            self._waiting.append(body)
            if self._asking:
                return
            self._asking = True
        connection = self.connection
        if connection is None or not connection.is_open:
            self._answer(found=None)
            return
        try:
            connection.channel(on_open_callback=self._opened)
        except Exception:  # noqa: BLE001  the connection is going: ask again after the retry
            self._answer(found=None)

    def _opened(self, channel: Any) -> None:
        answered = []

        def on_closed(_channel: Any, reason: Any) -> None:
            if not answered:
                answered.append(True)
                self._answer(found=False if _absent(reason) else None)

        def on_ok(_frame: Any) -> None:
            answered.append(True)
            self._answer(found=True)
            if channel.is_open:
                channel.close()

        channel.add_on_close_callback(on_closed)
        channel.queue_declare(STREAM, passive=True, callback=on_ok)

    def _answer(self, found: bool | None) -> None:
        with self._lock:
            batches, self._waiting = self._waiting, []
            self._asking = False
        if found is False:
            log.info("mesobus: no journal stream %s on the broker; journal copies pause", STREAM)
            self._pause()
            return
        self._retries += 1
        if self._retries > MAX_RETRIES:
            log.error("mesobus: journal batches still come back after %d retries (stream %s not bound?); "
                      "%d batches lost, journal copies pause", MAX_RETRIES, STREAM, len(batches))
            self._retries = 0
            self._pause()
            return
        for body in batches:  # the stream is there (or may be): not up yet after a restart
            self._call_later(RETRY_SECONDS, lambda body=body: self._resend(body))
