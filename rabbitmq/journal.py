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
import time
from datetime import datetime, timezone
from typing import Callable, Iterator

import msgpack
import pika
import pika.exceptions

from actors.security.journal_publishers import problem as publisher_problem
from messages import JOURNAL, Envelope, MessageError, decode_map
from messages.errors import JournalStreamError
from messages.journal import unbatch
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
    stall: float = 30.0,
    warn: Callable[[str], None] | None = None,
    master_principal: str | None = None,
) -> Iterator[Envelope]:
    """Envelopes from the journal stream, oldest first from `start`.

    Each record is checked against its publisher (the AMQP `user_id` the broker verified,
    actors/security/journal_publishers.py): what another principal than the master's
    (`master_principal`, default: the reader's own user, as operator tools connect as the
    master) wrote in another's name is left out, with a warning.

    Without `follow` it reads up to the stream's last record at the time of the call,
    then ends, however busy the cluster (a live allocator journals every second). With
    `follow` it goes on like `tail -f`, reconnecting after an outage. Problems (broker
    unreachable, login refused, no journal stream, connection lost while reading) raise
    `JournalStreamError` with one line naming the broker and the problem."""
    config = parse_url(config) if isinstance(config, str) else config
    warn = warn or (lambda text: log.warning("%s", text))
    master = master_principal or config.username
    if not follow:
        yield from _read_to_end(config, start, idle, stall, warn, master)
        return
    position: object = start
    connected_once = False
    while True:
        reader = _Reader(config, warn, master)
        try:
            for offset, envelopes in reader.records(position, idle):
                connected_once = True
                if offset is not None:
                    position = offset + 1
                    yield from envelopes
        except JournalStreamError as err:
            if not connected_once:
                raise  # the first attempt failed: say so rather than wait for what may never come
            # Once it has read, it waits out anything: an outage, and a restarted broker
            # whose stream is not back yet (404 for a while).
            warn(f"{err}; retrying in {FOLLOW_RETRY:.0f}s")
            time.sleep(FOLLOW_RETRY)
        finally:
            reader.close()


FOLLOW_RETRY = 2.0  # seconds between reconnections of `--follow`


def _read_to_end(config: BrokerConfig, start: object, idle: float, stall: float,
                 warn: Callable[[str], None], master: str = "") -> Iterator[Envelope]:
    reader = _Reader(config, warn, master)
    try:
        end = reader.end_offset()
        if end is None:
            return  # an empty stream
        last, quiet = None, 0.0
        for offset, envelopes in reader.records(start, idle):
            if offset is None:  # nothing arrived for `idle` seconds
                if last is None:
                    return  # nothing between `start` and the end: it starts after the last record
                quiet += idle
                if quiet >= stall:
                    raise JournalStreamError(
                        f"the broker at {config.url} sent no journal record for {stall:.0f}s "
                        f"with {end - last} still to come (offsets {last + 1}..{end})"
                    )
                continue
            if offset > end:
                return  # written after the call
            last, quiet = offset, 0.0
            yield from envelopes
            if offset == end:
                return
    finally:
        reader.close()


class _Reader:
    """One connection reading the stream; a refusal of this user is AccessRefused (never
    retried, not even by --follow), other AMQP errors become JournalStreamError."""

    def __init__(self, config: BrokerConfig, warn: Callable[[str], None], master: str = "") -> None:
        self.config = config
        self.warn = warn
        self.master = master or config.username  # the principal whose records are all believed
        self.was_open = False
        self._connection: pika.BlockingConnection | None = None

    def _connect(self) -> pika.BlockingConnection:
        if self._connection is None:
            try:
                self._connection = pika.BlockingConnection(connection_parameters(self.config))
            except (pika.exceptions.AMQPError, OSError) as err:  # OSError: a host name that does not resolve
                self._refused(err, _connect_problem(err, self.config.url))
                raise JournalStreamError(_connect_problem(err, self.config.url)) from err
            self.was_open = True
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except pika.exceptions.AMQPError:
                pass
            self._connection = None

    def end_offset(self, first_wait: float = 2.0, burst: float = 0.1, cap: float = 1.0) -> int | None:
        """The offset of the stream's last record now (None: the stream is empty). A
        consumer from `last` is sent the stream's last chunk at once, in one burst: its
        highest offset is the end."""
        offsets: list[int] = []
        try:
            connection = self._connect()
            channel = connection.channel()
            channel.basic_qos(prefetch_count=1000)

            def take(_ch: object, method: object, props: pika.BasicProperties, _body: bytes) -> None:
                offsets.append(_offset_of(props))
                channel.basic_ack(method.delivery_tag)  # type: ignore[attr-defined]  (a chunk may exceed the prefetch)

            channel.basic_consume(STREAM, take, arguments={"x-stream-offset": "last"})
            deadline = time.monotonic() + first_wait
            while not offsets and time.monotonic() < deadline:
                connection.process_data_events(time_limit=0.05)
            deadline, seen = time.monotonic() + cap, -1
            while offsets and len(offsets) != seen and time.monotonic() < deadline:
                seen = len(offsets)
                connection.process_data_events(time_limit=burst)
            channel.close()
        except pika.exceptions.AMQPError as err:
            self.close()
            self._refused(err, self._problem(err))
            raise JournalStreamError(self._problem(err)) from err
        return max(offsets) if offsets else None

    def records(self, start: object, idle: float) -> Iterator[tuple[int | None, list[Envelope]]]:
        """(offset, envelopes of that record) from `start` on; (None, []) after `idle` quiet
        seconds. Undecodable records are skipped with a warning."""
        try:
            channel = self._connect().channel()
            channel.basic_qos(prefetch_count=2000)
            unacked = 0
            for method, props, body in channel.consume(
                STREAM, inactivity_timeout=idle, arguments={"x-stream-offset": _offset(start)}
            ):
                if method is None:
                    yield None, []
                    continue
                unacked += 1
                if unacked >= 500:
                    channel.basic_ack(method.delivery_tag, multiple=True)
                    unacked = 0
                try:
                    envelopes = list(unbatch(decode_map(msgpack.unpackb(body, raw=False)), self.warn))
                except (MessageError, ValueError, msgpack.UnpackException) as err:
                    self.warn(f"journal stream: skipping record {_offset_of(props)}: {err}")
                    envelopes = []
                envelopes = self._believed(envelopes, getattr(props, "user_id", None), _offset_of(props))
                yield _offset_of(props), envelopes
        except pika.exceptions.AMQPError as err:
            self.close()
            self._refused(err, self._problem(err))
            raise JournalStreamError(self._problem(err)) from err
        finally:
            self.close()

    def _believed(self, envelopes: list[Envelope], publisher: str | None, offset: int) -> list[Envelope]:
        kept, first_problem = [], None
        for envelope in envelopes:
            why = publisher_problem(publisher, self.master, envelope.sender)
            if why is None:
                kept.append(envelope)
            elif first_problem is None:
                first_problem = why
        if first_problem is not None:
            self.warn(f"journal stream: leaving out {len(envelopes) - len(kept)} message(s) of record {offset}: "
                      f"{first_problem}")
        return kept

    def _refused(self, err: BaseException, problem: str) -> None:
        """Raise AccessRefused (its line names the user and the vhost) if the broker
        refused this user: retrying will not help, unlike an outage."""
        if refusal(self.config, err) is not None:
            raise AccessRefused(problem) from err

    def _problem(self, err: pika.exceptions.AMQPError) -> str:
        url = self.config.url
        if isinstance(err, pika.exceptions.ChannelClosedByBroker):
            if err.reply_code == 404:
                return (f"the broker at {url} has no journal: the stream {STREAM} does not exist "
                        f"(a master started with its journal on creates it)")
            return f"the broker at {url} refused to let the journal be read: {err.reply_text}"
        if isinstance(err, pika.exceptions.AMQPConnectionError) and not self.was_open:
            return _connect_problem(err, url)
        return f"lost the connection to the broker at {url} while reading the journal ({describe(err)})"


def _offset_of(props: pika.BasicProperties) -> int:
    return int((props.headers or {}).get("x-stream-offset", -1))


def _connect_problem(err: BaseException, url: str) -> str:
    """One line for a connection that did not open."""
    if isinstance(err, pika.exceptions.ProbableAuthenticationError):
        return f"the broker at {url} refused the login (ACCESS_REFUSED): check the user name and password"
    if isinstance(err, pika.exceptions.ProbableAccessDeniedError):
        return f"the broker at {url} refused access to its virtual host: {_reply_text(err)}"
    inner: BaseException = err
    for _ in range(5):  # pika wraps the socket's error: AMQPConnectionError(AMQPConnector...(exception=OSError))
        nested = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else getattr(inner, "exception", None)
        if not isinstance(nested, BaseException):
            break
        inner = nested
    if isinstance(inner, OSError) and inner.strerror:
        detail = inner.strerror.lower()
    elif isinstance(inner, pika.exceptions.AMQPError) and not str(inner):
        detail = "no answer"  # e.g. a timeout of the AMQP handshake
    else:
        detail = describe(inner)
    return f"cannot reach the broker at {url} ({detail})"


def _reply_text(err: BaseException) -> str:
    text = str(err)
    return text.split(") ", 1)[1].strip("'\"") if ") " in text else text


class StreamToFile:
    """`mesobus master --journal PATH` on a broker: a queue bound to the journal's key,
    drained by a thread into a journal file. A record in which another principal than the
    master's wrote in someone else's name is not written (actors/security/journal_publishers.py)."""

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

    def _believed(self, body: bytes, publisher: str | None) -> bool:
        config = parse_url(self._config) if isinstance(self._config, str) else self._config
        if publisher is not None and publisher == config.username:
            return True  # the master's own (the common case: no decoding)
        try:
            envelopes = list(unbatch(decode_map(msgpack.unpackb(body, raw=False)), log.warning))
        except (MessageError, ValueError, msgpack.UnpackException):
            return True  # written as it came: readers of the file skip it with a warning
        for envelope in envelopes:
            why = publisher_problem(publisher, config.username, envelope.sender)
            if why is not None:
                log.warning("journal file feed: leaving out a record of %d message(s): %s", len(envelopes), why)
                return False
        return True

    def _drain(self) -> None:
        connection = _connect(self._config)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=2000)
            last_tag, pending = 0, 0
            for method, props, body in channel.consume(FILE_FEED, inactivity_timeout=0.2):
                if method is not None and self._believed(body, getattr(props, "user_id", None)):
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
