"""Where registry records are kept: `RegistryLog`, an append-only log of records. In
memory (tests, `memory://`), in a file (embedded), or a RabbitMQ stream
(rabbitmq/registry.py, on a broker).

Writing is two steps, so that records written together are made durable together (one
publisher-confirm wait, one fsync), as Mesos' registrar applies the operations that
arrived during a write in the next one: `write` stages a record, `flush` returns once
every staged record is durable; `append` is both.

>>> from messages.registry import WeightsSet
>>> log = MemoryRegistryLog()
>>> log.write(WeightsSet({"a": 2.0})); log.write(WeightsSet({"b": 1.0})); log.flush()
>>> [offset for offset, _ in log.read()]
[0, 1]
"""

from __future__ import annotations

import os
import struct
import threading
from abc import ABC, abstractmethod
from typing import Callable, Iterator

import messages.registry  # noqa: F401  (registers the record types)
from messages import Envelope, MessageError, decode, encode
from messages.registry import REGISTRY

_LENGTH = struct.Struct(">I")
MAX_RECORD = 64 * 2**20  # bytes: a snapshot of a large cluster fits, a corrupt length does not


class RegistryError(RuntimeError):
    """The registry cannot be written or read (the master must not go on as if it had)."""


class RegistryLog(ABC):
    @abstractmethod
    def write(self, record: object) -> None:
        """Stage `record` at the end of the log; it is durable once `flush()` returned.
        Raises RegistryError if the log cannot take it now (nothing was staged)."""

    @abstractmethod
    def flush(self) -> None:
        """Return once every record written so far is durable (replicated / on disk).
        Raises RegistryError otherwise: then nothing may be taken as written."""

    def append(self, record: object) -> None:
        """Write `record` and flush: it is durable when this returns."""
        self.write(record)
        self.flush()

    @abstractmethod
    def read(self, until: Callable[[object], bool] | None = None, start: int = 0) -> Iterator[tuple[int, object]]:
        """(offset, record) pairs from offset `start` on, oldest first, up to the end (or
        up to and including the first record `until` accepts). Offsets only grow."""

    def close(self) -> None:
        pass


def record_bytes(record: object) -> bytes:
    """A record as an envelope to `registry` (the form the stream holds too)."""
    return encode(Envelope(id="", sender="master", target=REGISTRY, body=record))


def record_of(body: bytes) -> object:
    return decode(body).body


class MemoryRegistryLog(RegistryLog):
    """Kept by this process only: what a `memory://` master and the unit tests use."""

    def __init__(self) -> None:
        self.records: list[object] = []
        self._lock = threading.Lock()

    def write(self, record: object) -> None:
        with self._lock:
            self.records.append(record)

    def flush(self) -> None:
        pass  # nothing outlives the process anyway

    def read(self, until: Callable[[object], bool] | None = None, start: int = 0) -> Iterator[tuple[int, object]]:
        with self._lock:
            records = list(self.records)
        for offset, record in enumerate(records[start:], start):
            yield offset, record
            if until is not None and until(record):
                return


class FileRegistryLog(RegistryLog):
    """A file of length-prefixed records. Written records wait in memory until `flush`,
    which writes them all and fsyncs once (a group commit); `read` sees flushed records
    only. A torn last record (a crash mid-write) is cut off when the file is opened."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._count, good = self._scan()
        with open(self.path, "ab") as f:
            f.truncate(good)
        self._file = open(self.path, "ab")
        self._staged = bytearray()  # written, not yet flushed
        self._staged_count = 0
        self._error: OSError | None = None  # a failed flush: the file's end is unknown since

    def _scan(self) -> tuple[int, int]:
        count = good = 0
        for _offset, _record, end in self._frames():
            count, good = count + 1, end
        return count, good

    def _frames(self) -> Iterator[tuple[int, bytes, int]]:
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            data = f.read()
        at, offset = 0, 0
        while at + _LENGTH.size <= len(data):
            (size,) = _LENGTH.unpack_from(data, at)
            if size > MAX_RECORD or at + _LENGTH.size + size > len(data):
                return
            yield offset, data[at + _LENGTH.size : at + _LENGTH.size + size], at + _LENGTH.size + size
            at += _LENGTH.size + size
            offset += 1

    def write(self, record: object) -> None:
        body = record_bytes(record)
        with self._lock:
            self._staged += _LENGTH.pack(len(body))
            self._staged += body
            self._staged_count += 1

    def flush(self) -> None:
        with self._lock:
            if self._error is None and self._staged:
                try:
                    self._file.write(self._staged)
                    self._file.flush()
                    os.fsync(self._file.fileno())
                except OSError as err:
                    # Part of it may be in the file: nothing written after it could be read back.
                    self._error = err
                else:
                    self._count += self._staged_count
                    self._staged.clear()
                    self._staged_count = 0
            if self._error is not None:
                raise RegistryError(f"cannot write the registry file {self.path}: {self._error}") from self._error

    def read(self, until: Callable[[object], bool] | None = None, start: int = 0) -> Iterator[tuple[int, object]]:
        with self._lock:
            frames = list(self._frames())
        for offset, body, _end in frames[start:]:
            try:
                record = record_of(body)
            except MessageError as err:
                raise RegistryError(f"registry file {self.path}: record {offset} is unreadable: {err}") from err
            yield offset, record
            if until is not None and until(record):
                return

    def close(self) -> None:
        self._file.close()
