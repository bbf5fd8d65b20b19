"""Persisted framework state: a key/value map kept as an append-only log of changes.

Built-in frameworks (services, jobs) keep what must survive a restart or a failover here:
their framework id, app or job definitions, versions, deployments. Two implementations
share the interface: `FileStore` (embedded mode, one msgpack file) and, on a broker, a
RabbitMQ stream (rabbitmq/state_store.py), reached through `open_store(url, name)`.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "state")
>>> store = FileStore(path)
>>> store.put("apps//web", {"id": "/web", "instances": 2})
>>> store.delete("nothing")
>>> store.close()
>>> FileStore(path).load()
{'apps//web': {'id': '/web', 'instances': 2}}

Values are anything msgpack encodes (dicts, lists, text, numbers, bytes, None as a
value is kept: use `delete` to remove a key). Writes are durable when `put` returns.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterator, Protocol

import msgpack

from messages.state_log import (  # noqa: F401  (the log's format; MAX_VALUE_BYTES, StoreError: part of this API)
    MAX_VALUE_BYTES, StoreError, apply_record, encode_change, encode_snapshot, fold,
)


class StateStore(Protocol):
    """What a framework persists into: `load()` once at start, then `put`/`delete`."""

    def load(self) -> dict[str, Any]:
        """Every key and its latest value."""

    def put(self, key: str, value: Any) -> None:
        """Set `key`; durable when this returns."""

    def delete(self, key: str) -> None:
        """Remove `key` (no error if absent)."""

    def close(self) -> None:
        """Release the file or connection."""


class MemoryStore:
    """A StateStore in memory (tests; a cluster that needs nothing to survive)."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(initial or {})
        self.writes = 0

    def load(self) -> dict[str, Any]:
        return msgpack.unpackb(msgpack.packb(self.data, use_bin_type=True), raw=False)

    def put(self, key: str, value: Any) -> None:
        encode_change(key, value)  # the same checks as a real store
        self.data[key] = msgpack.unpackb(msgpack.packb(value, use_bin_type=True), raw=False)
        self.writes += 1

    def delete(self, key: str) -> None:
        self.data.pop(key, None)
        self.writes += 1

    def close(self) -> None:
        pass


class FileStore:
    """A StateStore in one file: records appended and fsynced; rewritten as one snapshot
    when the log has grown to several times the state (on open, and every 1,000 writes)."""

    COMPACT_EVERY = 1000

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._state = fold(self._records()) if self.path.exists() else {}
            self._compact()
        except OSError as err:
            raise StoreError(f"state file {self.path}: {err.strerror or err}") from None
        self._writes = 0

    def load(self) -> dict[str, Any]:
        with self._lock:
            return msgpack.unpackb(msgpack.packb(self._state, use_bin_type=True), raw=False)

    def put(self, key: str, value: Any) -> None:
        self._append(encode_change(key, value), ["put", key, value])

    def delete(self, key: str) -> None:
        self._append(encode_change(key, None, deleted=True), ["del", key])

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def _append(self, data: bytes, record: list) -> None:
        with self._lock:
            try:
                self._file.write(data)
                self._file.flush()
                os.fsync(self._file.fileno())
            except (OSError, ValueError) as err:
                raise StoreError(f"state file {self.path}: {err}") from None
            apply_record(self._state, msgpack.unpackb(msgpack.packb(record, use_bin_type=True), raw=False))
            self._writes += 1
            if self._writes % self.COMPACT_EVERY == 0:
                self._file.close()
                self._compact()

    def _records(self) -> Iterator[Any]:
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=MAX_VALUE_BYTES * 4)
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 16):
                unpacker.feed(chunk)
                try:
                    yield from unpacker
                except (ValueError, msgpack.UnpackException):
                    return  # a torn last write: what came before stands

    def _compact(self) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "wb") as f:
            f.write(encode_snapshot(self._state))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._file = open(self.path, "ab")


def open_store(target: str, name: str, *, state_dir: str | os.PathLike[str] | None = None) -> StateStore:
    """The store of framework `name`: on a broker (`amqp[s]://`) a stream named
    `mesobus.state.<name>`; otherwise a file `<state_dir>/<name>.state` (a MemoryStore
    when `state_dir` is None)."""
    scheme = target.partition("://")[0].lower() if "://" in target else ""
    if scheme in ("amqp", "amqps"):
        from rabbitmq.state_store import StreamStore  # lazily: actors/ never imports pika

        return StreamStore(target, name)
    if state_dir is None:
        return MemoryStore()
    return FileStore(Path(state_dir) / f"{name}.state")
