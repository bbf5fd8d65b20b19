"""The journal as a file: envelopes appended as msgpack, one after another.

Embedded clusters write it through a transport tap; `mesobus log`/`replay` read it.

>>> import tempfile, os
>>> from messages import Envelope, PongAgent, encode
>>> path = os.path.join(tempfile.mkdtemp(), "j.msgpack")
>>> with FileJournal(path) as journal:
...     env = Envelope(id="m1", sender="agent.a", target="master", body=PongAgent("a"))
...     journal.tap(env, encode(env))
>>> [e.id for e in read_journal_file(path)]
['m1']
"""

from __future__ import annotations

import logging
import os
import threading
from typing import BinaryIO, Iterator

import msgpack

from messages import Envelope, MessageError, PublishedBatch, decode, decode_map

log = logging.getLogger(__name__)


class FileJournal:
    """Appends every envelope it is given; flushed at least every `flush_seconds`."""

    def __init__(self, path: str, flush_seconds: float = 1.0) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._file: BinaryIO = open(path, "ab", buffering=1 << 20)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.records = 0
        self._flusher = threading.Thread(
            target=self._flush_loop, args=(flush_seconds,), name="mesobus-journal", daemon=True
        )
        self._flusher.start()

    def tap(self, envelope: Envelope, body: bytes) -> None:
        """A transport tap: keep this message."""
        with self._lock:
            if not self._closed.is_set():
                self._file.write(body)
                self.records += 1

    def write_many(self, bodies: Iterator[bytes]) -> None:
        with self._lock:
            for body in bodies:
                self._file.write(body)
                self.records += 1

    def flush(self) -> None:
        with self._lock:
            if not self._closed.is_set():
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            self._file.close()

    def __enter__(self) -> "FileJournal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush_loop(self, seconds: float) -> None:
        while not self._closed.wait(seconds):
            with self._lock:
                if not self._closed.is_set():
                    self._file.flush()


def unbatch(envelope: Envelope) -> Iterator[Envelope]:
    """A record as the messages it holds: a `PublishedBatch` (a broker transport's copies
    of what it published) becomes its messages; anything else is itself."""
    if not isinstance(envelope.body, PublishedBatch):
        yield envelope
        return
    for body in envelope.body.messages:
        try:
            yield decode(body)
        except MessageError as err:
            log.warning("journal: skipping a published message: %s", err)


def read_journal_file(path: str, *, follow: bool = False, poll: float = 0.5) -> Iterator[Envelope]:
    """Every envelope in the file, in the order written. Records that do not decode
    (a torn tail, a newer message type) are logged and skipped. With `follow`, keeps
    waiting for new records, like `tail -f`."""
    import time

    with open(path, "rb") as f:
        unpacker = msgpack.Unpacker(f, raw=False, max_buffer_size=64 << 20)
        while True:
            for raw in unpacker:
                try:
                    yield from unbatch(decode_map(raw))
                except MessageError as err:
                    log.warning("journal %s: skipping a record: %s", path, err)
            if not follow:
                return
            time.sleep(poll)
