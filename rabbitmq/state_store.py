"""A framework's persisted state on the broker: the RabbitMQ stream `mesobus.state.<name>`.

The stream holds the log of changes of a key/value map (actors/frameworks/hosting/store.py
decodes it): `put` appends a record and returns once the broker confirmed it; every
`SNAPSHOT_EVERY` writes a full snapshot is appended, so a reader may start anywhere the
retention left and still rebuild the map. `load` reads from the first retained record to
a marker it appended itself (the end it must reach, whatever else is writing).

    store = StreamStore("amqp://guest:guest@localhost:5672/%2F", "services")
    apps = store.load()
    store.put("app:/web", {...})

One connection per store, used under a lock; a dropped connection is opened again once
per call before the call fails with StoreError.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

import msgpack
import pika
import pika.exceptions

from messages.state_log import MAX_VALUE_BYTES, StoreError, apply_record, encode_change, encode_snapshot
from rabbitmq.config import parse_url
from rabbitmq.connection import connection_parameters, describe

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 1000
MAX_STREAM_BYTES = 2 * 2**30


def stream_name(name: str) -> str:
    return f"mesobus.state.{name}"


class StreamStore:
    """A StateStore on a RabbitMQ stream (see the module docstring)."""

    def __init__(self, url: str, name: str, *, load_timeout: float = 30.0) -> None:
        self.config = parse_url(url)
        self.queue = stream_name(name)
        self.load_timeout = load_timeout
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None
        self._state: dict[str, Any] = {}
        self._writes = 0
        self._call(lambda: None)  # connect and declare now: a bad broker fails here

    def load(self) -> dict[str, Any]:
        with self._lock:
            self._state = self._retry(self._read_all)
            return msgpack.unpackb(msgpack.packb(self._state, use_bin_type=True), raw=False)

    def put(self, key: str, value: Any) -> None:
        self._write(encode_change(key, value), ["put", key, value])

    def delete(self, key: str) -> None:
        self._write(encode_change(key, None, deleted=True), ["del", key])

    def close(self) -> None:
        with self._lock:
            self._drop()

    # --- internals ----------------------------------------------------------------------

    def _write(self, data: bytes, record: list) -> None:
        with self._lock:
            self._retry(lambda: self._publish(data))
            apply_record(self._state, msgpack.unpackb(msgpack.packb(record, use_bin_type=True), raw=False))
            self._writes += 1
            if self._writes % SNAPSHOT_EVERY == 0:
                self._retry(lambda: self._publish(encode_snapshot(self._state)))

    def _call(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            return self._retry(fn)

    def _retry(self, fn: Callable[[], Any]) -> Any:
        for attempt in (1, 2):
            try:
                self._open()
                return fn()
            except (pika.exceptions.AMQPError, OSError) as err:
                self._drop()
                if attempt == 2:
                    raise StoreError(f"state stream {self.queue}: {describe(err)}") from None
        raise AssertionError("unreachable")

    def _open(self) -> None:
        if self._channel is not None and self._channel.is_open:
            return
        params = connection_parameters(self.config)
        params.client_properties = {"connection_name": f"mesobus state {self.queue} pid {os.getpid()}"}
        self._connection = pika.BlockingConnection(params)
        self._channel = self._connection.channel()
        self._channel.queue_declare(self.queue, durable=True, arguments={
            "x-queue-type": "stream", "x-max-length-bytes": MAX_STREAM_BYTES})
        self._channel.confirm_delivery()

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001  already gone
                pass

    def _publish(self, data: bytes) -> None:
        props = pika.BasicProperties(delivery_mode=2)
        self._channel.basic_publish("", self.queue, data, props, mandatory=True)

    def _read_all(self) -> dict[str, Any]:
        marker = os.urandom(8).hex()
        self._publish(msgpack.packb(["mark", marker], use_bin_type=True))
        channel = self._connection.channel()  # a consumer channel of its own
        channel.basic_qos(prefetch_count=1000)
        state: dict[str, Any] = {}
        try:
            for method, _props, body in channel.consume(
                self.queue, inactivity_timeout=self.load_timeout, arguments={"x-stream-offset": "first"}
            ):
                if method is None:
                    raise StoreError(f"state stream {self.queue}: no end found within {self.load_timeout}s")
                channel.basic_ack(method.delivery_tag)
                if len(body) > MAX_VALUE_BYTES + 1024:
                    log.warning("%s: skipping a record of %d bytes", self.queue, len(body))
                    continue
                try:
                    record = msgpack.unpackb(body, raw=False)
                except (ValueError, msgpack.UnpackException):
                    log.warning("%s: skipping a record that is not msgpack", self.queue)
                    continue
                if record == ["mark", marker]:
                    break
                apply_record(state, record)
        finally:
            try:
                channel.close()
            except Exception:  # noqa: BLE001
                pass
        return state
