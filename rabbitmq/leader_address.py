"""Where the leading master's HTTP API is, for standbys to redirect to.

The leader puts its `host:port` in `mesobus.leader.http`, a queue that keeps one message
(`x-max-length` 1, older ones dropped) for `TTL_SECONDS`, and puts it again every
`ANNOUNCE_SECONDS` while it leads; a standby reads it without taking it (get, then
reject with requeue). A leader gone for longer than the TTL leaves nothing to read.

    directory = LeaderAddress(parse_url(url))
    directory.announce("10.0.0.1:5050")      # the leader, every ANNOUNCE_SECONDS
    directory.lookup()                        # a standby: "10.0.0.1:5050" or None
"""

from __future__ import annotations

import logging
import threading
import time

import pika
import pika.exceptions

from rabbitmq.config import BrokerConfig
from rabbitmq.connection import connection_parameters

log = logging.getLogger(__name__)

QUEUE = "mesobus.leader.http"
TTL_SECONDS = 30
ANNOUNCE_SECONDS = 10.0
CACHE_SECONDS = 1.0


class LeaderAddress:
    """One connection of its own, used under a lock (pika's are not thread-safe)."""

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._cached: tuple[float, str | None] = (-1e9, None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _ensure(self):
        if self._connection is None or not self._connection.is_open or self._channel is None or not self._channel.is_open:
            params = connection_parameters(self.config)
            params.client_properties = {"connection_name": "mesobus leader address"}
            self._connection = pika.BlockingConnection(params)
            self._channel = self._connection.channel()
            self._channel.queue_declare(QUEUE, arguments={"x-max-length": 1, "x-message-ttl": TTL_SECONDS * 1000})
        return self._channel

    def announce(self, address: str) -> None:
        with self._lock:
            try:
                self._ensure().basic_publish("", QUEUE, address.encode())
            except (pika.exceptions.AMQPError, OSError) as err:
                self._connection = None
                log.warning("mesobus: cannot announce the HTTP address %s: %s", address, err)

    def keep_announcing(self, address: str) -> None:
        """Announce at once and every ANNOUNCE_SECONDS on a daemon thread, until close().
        Returns at once: a new leader does not wait for a connection of its own here."""

        def loop() -> None:
            self.announce(address)
            while not self._stop.wait(ANNOUNCE_SECONDS):
                self.announce(address)

        self._thread = threading.Thread(target=loop, name="mesobus-leader-address", daemon=True)
        self._thread.start()

    def lookup(self) -> str | None:
        at, cached = self._cached
        if time.monotonic() - at < CACHE_SECONDS:
            return cached
        with self._lock:
            try:
                channel = self._ensure()
                method, _props, body = channel.basic_get(QUEUE, auto_ack=False)
                found = None
                if method is not None:
                    channel.basic_reject(method.delivery_tag, requeue=True)
                    found = body.decode("utf-8", "replace") or None
            except (pika.exceptions.AMQPError, OSError) as err:
                self._connection = None
                log.info("mesobus: cannot read the leader's HTTP address: %s", err)
                found = None
        self._cached = (time.monotonic(), found)
        return found

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        with self._lock:
            try:
                if self._connection is not None and self._connection.is_open:
                    self._connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass
            self._connection = None
