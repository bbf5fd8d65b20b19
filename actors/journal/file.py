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
import time
from typing import BinaryIO, Callable, Iterator

import msgpack

from messages import CATALOGUE, Envelope, MessageError, decode_map
from messages.errors import JournalFileError
from messages.journal import unbatch as _unbatch

log = logging.getLogger(__name__)

MAX_RECORD = 64 << 20  # bytes; a bigger "record" is damage, not a journal record


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


def unbatch(envelope: Envelope, warn: Callable[[str], None] | None = None) -> Iterator[Envelope]:
    """A record as the messages it holds (messages/journal.py); skipped ones are logged
    unless `warn` is given."""
    return _unbatch(envelope, warn or _log_warning)


def _unknown_type(raw: object) -> bool:
    """A well-formed record of a message type this version does not know (a newer one)."""
    return isinstance(raw, dict) and isinstance(raw.get("y"), str) and raw["y"] not in CATALOGUE


def _log_warning(text: str) -> None:
    log.warning("%s", text)


def read_journal_file(
    path: str,
    *,
    follow: bool = False,
    poll: float = 0.5,
    warn: Callable[[str], None] = _log_warning,
) -> Iterator[Envelope]:
    """Every envelope in the file, in the order written.

    A file that is empty or does not start with a journal record, and a record that is
    not one (damage), raise `JournalFileError` naming the file and the byte offset; the
    records before the damage have been yielded by then. A record of a message type this
    version does not know is skipped with a warning, and so is a torn tail (the last
    record cut short, as when the writer was killed). With `follow`, keeps waiting for
    new records, like `tail -f` (a partial last record is then one still being written).
    """
    try:
        f = open(path, "rb")
    except OSError as err:
        raise JournalFileError(f"cannot open journal file {path}: {err.strerror or err}") from None
    with f:
        if not follow and os.fstat(f.fileno()).st_size == 0:
            raise JournalFileError(f"journal file {path} is empty: it holds no records")
        unpacker = msgpack.Unpacker(f, raw=False, max_buffer_size=MAX_RECORD)
        records = 0
        end = 0  # where the last complete record ends
        while True:
            while True:
                at = unpacker.tell()
                try:
                    raw = next(unpacker)
                except StopIteration:
                    # tell() now counts the bytes of a cut-short record too: the complete
                    # ones end where this attempt began.
                    end = at
                    break
                except (ValueError, msgpack.UnpackException) as err:  # msgpack's errors, and bad UTF-8
                    raise JournalFileError(_damage(path, at, records, _msgpack_problem(err))) from None
                try:
                    envelope = decode_map(raw)
                except MessageError as err:
                    if _unknown_type(raw):
                        warn(f"journal file {path}: skipping a record of unknown type {raw['y']!r} at byte {at}")
                        records += 1
                        continue
                    raise JournalFileError(_damage(path, at, records, f"not a journal record ({err})")) from None
                records += 1
                yield from unbatch(envelope, warn)
            if not follow:
                break
            time.sleep(poll)
        size = os.fstat(f.fileno()).st_size
        if end < size:
            if not records:
                raise JournalFileError(f"journal file {path} is not a mesobus journal: "
                                       f"its {size} bytes hold no complete record")
            warn(f"journal file {path} ends with a torn record: the last {size - end} bytes "
                 f"(from byte {end}) are an incomplete record, ignored (was the writer killed?)")


def _msgpack_problem(err: BaseException) -> str:
    if isinstance(err, UnicodeDecodeError):
        return "a text field that is not valid UTF-8"
    if isinstance(err, msgpack.BufferFull):
        return f"a record larger than {MAX_RECORD >> 20} MB"
    return "bytes that are not valid msgpack"


def _damage(path: str, at: int, records: int, problem: str) -> str:
    if records == 0:
        return f"journal file {path} is not a mesobus journal: {problem} at byte {at}"
    return (f"journal file {path} is damaged at byte {at}: {problem}; "
            f"the {records} records before it were read")
