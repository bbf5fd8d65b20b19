"""The journal on a broker: a RabbitMQ stream, with retention by age and size, bound to
the routing key `journal` only. Every transport sends there batched copies of all it
publishes (rabbitmq/journal_copies.py), and actors their own records (start, handling
order, allocation reasons); the stream is not bound to the mailboxes' keys, so a message
for a mailbox that does not exist stays unroutable and is dead-lettered. Readers consume the stream
from an offset (`first`, `last`, a number, or a time) without removing anything.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Iterator

import msgpack
import pika
import pika.exceptions

from actors.journal.file import unbatch
from messages import JOURNAL, Envelope, MessageError, decode_map
from rabbitmq.config import BrokerConfig, parse_url
from actors.runtime.transport import AccessRefused, TransportError
from rabbitmq.connection import CertificateRejected, certificate_rejection, connection_parameters, describe, refusal
from rabbitmq.topology import EXCHANGE

log = logging.getLogger(__name__)

STREAM = "mesobus.journal"
FILE_FEED = "mesobus.journal-file"  # feeds `--journal PATH` on a broker


def stream_arguments(max_age: str, max_bytes: int) -> dict:
    return {
        "x-queue-type": "stream",
        "x-max-age": max_age,  # e.g. "7D", "12h"
        "x-max-length-bytes": max_bytes,
        "x-stream-max-segment-size-bytes": min(max_bytes, 100_000_000),
    }


def _connect(config: BrokerConfig | str) -> pika.BlockingConnection:
    """A blocking connection; a refused user or certificate raises AccessRefused or
    CertificateRejected, an unreachable broker TransportError (one line each)."""
    if isinstance(config, str):
        config = parse_url(config)
    try:
        return pika.BlockingConnection(connection_parameters(config))
    except pika.exceptions.AMQPError as err:
        refused = refusal(config, err)
        if refused is not None:
            raise AccessRefused(refused) from None
        rejected = certificate_rejection(config, err)
        if rejected is not None:
            raise CertificateRejected(rejected) from None
        raise TransportError(f"cannot reach {config.url}: {describe(err)}") from None


def enable_stream(config: BrokerConfig | str, *, max_age: str = "7D", max_bytes: int = 5 * 2**30) -> None:
    """Declare the journal stream and bind it to every message. A stream that exists
    with other retention keeps it (change it with a policy) and is bound all the same."""
    connection = _connect(config)
    try:
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, "topic", durable=True)
        try:
            channel.queue_declare(STREAM, durable=True, arguments=stream_arguments(max_age, max_bytes))
        except pika.exceptions.ChannelClosedByBroker as err:
            if err.reply_code != 406:
                raise
            log.warning("journal stream %s exists with other retention settings; kept as it is", STREAM)
            channel = connection.channel()
        channel.queue_bind(STREAM, EXCHANGE, routing_key=JOURNAL)
        channel.queue_unbind(STREAM, EXCHANGE, routing_key="#")  # the binding of older versions
    finally:
        connection.close()


def disable_stream(config: BrokerConfig | str) -> None:
    """Stop journaling (`--no-journal`): unbind the stream; what it holds stays readable."""
    connection = _connect(config)
    try:
        channel = connection.channel()
        try:
            channel.queue_declare(STREAM, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return  # no stream, nothing to unbind
        channel.queue_unbind(STREAM, EXCHANGE, routing_key=JOURNAL)
        channel.queue_unbind(STREAM, EXCHANGE, routing_key="#")
    finally:
        connection.close()


def _offset(start: str | int | float | datetime) -> object:
    if isinstance(start, datetime):
        return start.astimezone(timezone.utc)
    if isinstance(start, float):
        return datetime.fromtimestamp(start, timezone.utc)
    return start  # "first", "last", "next" or an integer offset


def read_stream(
    config: BrokerConfig | str,
    *,
    start: str | int | float | datetime = "first",
    follow: bool = False,
    idle: float = 1.5,
) -> Iterator[Envelope]:
    """Envelopes from the journal stream, oldest first from `start`. Without `follow`
    it ends once nothing new has arrived for `idle` seconds."""
    connection = _connect(config)
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=2000)
        unacked = 0
        for method, _props, body in channel.consume(
            STREAM, inactivity_timeout=idle, arguments={"x-stream-offset": _offset(start)}
        ):
            if method is None:
                if not follow:
                    break
                continue
            unacked += 1
            if unacked >= 500:
                channel.basic_ack(method.delivery_tag, multiple=True)
                unacked = 0
            try:
                yield from unbatch(decode_map(msgpack.unpackb(body, raw=False)))
            except (MessageError, ValueError, msgpack.UnpackException) as err:
                log.warning("journal stream: skipping a record: %s", err)
    finally:
        try:
            connection.close()
        except pika.exceptions.AMQPError:
            pass


class StreamToFile:
    """`mesobus master --journal PATH` on a broker: a queue bound to the journal's key,
    drained by a thread into a journal file."""

    def __init__(self, config: BrokerConfig | str, journal) -> None:  # journal: FileJournal
        self._config = config
        self._journal = journal
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mesobus-journal-file", daemon=True)

    def start(self) -> "StreamToFile":
        connection = _connect(self._config)
        try:
            channel = connection.channel()
            channel.exchange_declare(EXCHANGE, "topic", durable=True)
            channel.queue_declare(FILE_FEED, durable=True, arguments={"x-queue-type": "classic"})
            channel.queue_bind(FILE_FEED, EXCHANGE, routing_key=JOURNAL)
            channel.queue_unbind(FILE_FEED, EXCHANGE, routing_key="#")
        finally:
            connection.close()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain()
            except pika.exceptions.AMQPError as err:
                log.warning("journal file feed lost its connection (%s); reconnecting", err)
                self._stop.wait(1.0)

    def _drain(self) -> None:
        connection = _connect(self._config)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=2000)
            last_tag, pending = 0, 0
            for method, _props, body in channel.consume(FILE_FEED, inactivity_timeout=0.2):
                if method is not None:
                    self._journal.write_many(iter((body,)))
                    last_tag, pending = method.delivery_tag, pending + 1
                if pending and (method is None or pending >= 200):
                    self._journal.flush()  # on disk before the broker lets go of it
                    channel.basic_ack(last_tag, multiple=True)
                    pending = 0
                if self._stop.is_set() and method is None:
                    break
        finally:
            if connection.is_open:
                connection.close()
