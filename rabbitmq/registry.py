"""The master's registry on a broker: a RabbitMQ stream, `mesobus.registry`, bound to the
routing key `registry` only (actors/registry/ reads and folds it).

Writes go through the leader's own transport (the connection that holds the leader
lock): `write` publishes (inside an actor's burst the transport holds it back until the
burst's end or the flush), `flush` waits for the broker's confirms, one wait for every
record written since the last one; the stream is replicated as the broker's streams are. Reads consume the stream from its first offset; each record's
offset is the stream's own (`x-stream-offset`), which only grows, so the leader epoch
(its `Elected` record's offset + 1) is monotonic by construction.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Callable, Iterator

import pika
import pika.exceptions

from actors.registry.log import RegistryError, RegistryLog, record_of
from actors.runtime import Transport, TransportError
from messages import Envelope, MessageError
from messages.registry import REGISTRY
from rabbitmq.config import BrokerConfig
from rabbitmq.connection import connection_parameters, describe
from rabbitmq.topology import EXCHANGE

log = logging.getLogger(__name__)

STREAM = "mesobus.registry"
_OFFSET_HEADER = "x-stream-offset"


def declare_stream(config: BrokerConfig) -> None:
    """The stream and its binding (idempotent). No retention: the registry is small and
    every record of it counts (snapshots keep start-up reading short)."""
    connection = pika.BlockingConnection(connection_parameters(config))
    try:
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, "topic", durable=True)
        channel.queue_declare(STREAM, durable=True, arguments={"x-queue-type": "stream"})
        channel.queue_bind(STREAM, EXCHANGE, routing_key=REGISTRY)
    finally:
        connection.close()


class StreamRegistryLog(RegistryLog):
    """`RegistryLog` on the stream; `transport` is the leader's (see the module docstring),
    None for a reader (a standby following the registry)."""

    def __init__(self, config: BrokerConfig, transport: Transport | None, *, confirm_timeout: float = 10.0,
                 read_timeout: float = 30.0) -> None:
        self.config = config
        self.transport = transport
        self.confirm_timeout = confirm_timeout
        self.read_timeout = read_timeout
        self._unconfirmed = 0  # records written since the last flush
        try:
            declare_stream(config)
        except (pika.exceptions.AMQPError, OSError) as err:
            raise RegistryError(f"cannot declare the registry stream {STREAM}: {describe(err)}") from err

    def write(self, record: object) -> None:
        if self.transport is None:
            raise RegistryError("this registry log was opened for reading only")
        envelope = Envelope(id=uuid.uuid4().hex, sender="master", target=REGISTRY, body=record,
                            sent_at=time.time())
        try:
            self.transport.publish(envelope)
        except TransportError as err:
            raise RegistryError(f"the registry stream did not take a {type(record).__name__}: {err}") from err
        self._unconfirmed += 1

    def flush(self) -> None:
        """Waits for the confirm of everything the transport published so far (the
        records among it): up to `confirm_timeout`."""
        if self.transport is None or not self._unconfirmed:
            return
        try:
            self.transport.flush(self.confirm_timeout)
        except TransportError as err:
            raise RegistryError(f"the registry stream did not confirm {self._unconfirmed} records: {err}") from err
        self._unconfirmed = 0

    def read(self, until: Callable[[object], bool] | None = None, start: int = 0) -> Iterator[tuple[int, object]]:
        """From the stream's offset `start` on. Without `until`, ends once nothing new
        arrived for a second; with it, waits up to `read_timeout` for that record."""
        try:
            connection = pika.BlockingConnection(connection_parameters(self.config))
        except (pika.exceptions.AMQPError, OSError) as err:
            raise RegistryError(f"cannot read the registry stream {STREAM}: {describe(err)}") from err
        deadline = time.monotonic() + self.read_timeout
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=1000)
            unacked = 0
            for method, props, body in channel.consume(
                STREAM, inactivity_timeout=1.0 if until is None else 0.2,
                arguments={_OFFSET_HEADER: start if start > 0 else "first"},
            ):
                if method is None:
                    if until is None:
                        return
                    if time.monotonic() > deadline:
                        raise RegistryError(f"the registry stream {STREAM} did not give back the record "
                                            f"written {self.read_timeout:g}s ago")
                    continue
                unacked += 1
                if unacked >= 500:  # a stream consumer's credit: acks only move the window
                    channel.basic_ack(method.delivery_tag, multiple=True)
                    unacked = 0
                offset = int((props.headers or {}).get(_OFFSET_HEADER, -1))
                if offset < start:
                    continue  # the stream starts at the chunk that holds `start`
                try:
                    record = record_of(body)
                except MessageError as err:
                    log.warning("registry stream: skipping the record at offset %d: %s", offset, err)
                    continue
                yield offset, record
                if until is not None and until(record):
                    return
        except pika.exceptions.AMQPError as err:
            raise RegistryError(f"reading the registry stream {STREAM} failed: {describe(err)}") from err
        finally:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass
