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
A store may also offer `stage`/`stage_delete` and `wait` (FileStore does): records staged
now and made durable together later (group commit); `stage_put` and `wait_durable` use
them where they exist and fall back to `put` elsewhere.
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
    """A StateStore in one file: records appended, made durable by group commit, and the
    log rewritten as one snapshot when it has grown past twice the last snapshot.

    Group commit: `stage` writes a record to the file and returns its number at once;
    `wait(n)` returns when record n is on disk. Whoever waits first runs the fsync, and
    one fsync covers every record written before it began, so the records of many
    callers (concurrent API requests, the runs of one offer round) share it. `put` is
    `wait(stage(...))`. A failed fsync fails this and every later call: what reached the
    disk is then unknown (the kernel may have dropped the pages), so it is not retried.

    Compaction is bounded: the log is rewritten when it holds more than twice the bytes
    of the last snapshot (and at least COMPACT_MIN_BYTES), so its cost per write stays
    constant however large the state, and the file stays within three snapshots' size.
    """

    COMPACT_MIN_BYTES = 1 << 20

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._cond = threading.Condition()
        self._written = self._durable = 0  # numbers of the last record written / on disk
        self._syncing = False
        self._failed: StoreError | None = None
        self.fsyncs = 0  # how many fsyncs the writes took (group commit shows here)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._state = fold(self._records()) if self.path.exists() else {}
            self._compact()
        except OSError as err:
            raise StoreError(f"state file {self.path}: {err.strerror or err}") from None

    def load(self) -> dict[str, Any]:
        with self._cond:
            return msgpack.unpackb(msgpack.packb(self._state, use_bin_type=True), raw=False)

    def put(self, key: str, value: Any) -> None:
        self.wait(self.stage(key, value))

    def delete(self, key: str) -> None:
        self.wait(self.stage_delete(key))

    def stage(self, key: str, value: Any) -> int:
        """Write `key` to the file (not yet durable); returns the number to `wait` for."""
        return self._append(encode_change(key, value), ["put", key, value])

    def stage_delete(self, key: str) -> int:
        return self._append(encode_change(key, None, deleted=True), ["del", key])

    def wait(self, number: int | None = None) -> None:
        """Return once record `number` (default: every record staged so far) is durable."""
        with self._cond:
            target = self._written if number is None else number
            while self._durable < target:
                if self._failed is not None:
                    raise self._failed
                if self._syncing:
                    self._cond.wait()  # the fsync under way may cover it; else the next one
                    continue
                self._sync_as_leader()

    def close(self) -> None:
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if not self._file.closed:
                self._file.close()

    # --- internals ----------------------------------------------------------------------

    def _append(self, data: bytes, record: list) -> int:
        with self._cond:
            if self._failed is not None:
                raise self._failed
            try:
                view = memoryview(data)
                while view:  # an unbuffered file may take part of a large write
                    view = view[self._file.write(view):]
            except (OSError, ValueError) as err:
                self._fail(err)
            apply_record(self._state, msgpack.unpackb(data, raw=False))
            self._log_bytes += len(data)
            self._written += 1
            return self._written

    def _sync_as_leader(self) -> None:
        """Called with the lock held and no fsync under way: make everything written so
        far durable, by an fsync (the lock released meanwhile, so others go on writing)
        or, when the log has grown enough, by a compaction (the lock held: it replaces
        the file the writers append to)."""
        target = self._written
        if self._log_bytes > max(2 * self._snapshot_bytes, self.COMPACT_MIN_BYTES):
            try:
                self._file.close()
                self._compact()
            except (OSError, ValueError) as err:
                self._fail(err)
            self._durable = target
            self._cond.notify_all()
            return
        self._syncing = True
        fd = self._file.fileno()
        self._cond.release()
        try:
            os.fsync(fd)
            error = None
        except OSError as err:
            error = err
        finally:
            self._cond.acquire()
            self._syncing = False
            self.fsyncs += 1
            self._cond.notify_all()
        if error is not None:
            self._fail(error)
        self._durable = max(self._durable, target)

    def _fail(self, err: BaseException) -> None:
        self._failed = StoreError(f"state file {self.path}: {getattr(err, 'strerror', None) or err}")
        self._cond.notify_all()
        raise self._failed

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
        """Rewrite the file as one snapshot of the state: written to a temporary file,
        fsynced, renamed over the log, and the directory fsynced so the rename stays."""
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        snapshot = encode_snapshot(self._state)
        with open(tmp, "wb") as f:
            f.write(snapshot)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self.fsyncs += 2
        self._snapshot_bytes, self._log_bytes = len(snapshot), 0
        self._file = open(self.path, "ab", buffering=0)


def stage_put(store: StateStore, key: str, value: Any) -> int | None:
    """Write `key` without waiting for it to be durable where the store can (FileStore);
    elsewhere a plain `put`, durable on return. Pass the result to `wait_durable`."""
    stage = getattr(store, "stage", None)
    if stage is None:
        store.put(key, value)
        return None
    return stage(key, value)


def stage_delete(store: StateStore, key: str) -> int | None:
    stage = getattr(store, "stage_delete", None)
    if stage is None:
        store.delete(key)
        return None
    return stage(key)


def wait_durable(store: StateStore, number: int | None) -> None:
    """Return once the record `number` from `stage_put` is durable (None: it already is)."""
    if number is not None:
        store.wait(number)  # type: ignore[attr-defined]


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
