"""`AmqpTransport`: every actor's mailbox is a durable RabbitMQ queue.

    from rabbitmq import AmqpTransport
    transport = AmqpTransport("amqp://guest:guest@127.0.0.1:5672/%2F?prefetch=500")
    Echo.start("echo", transport)                         # an actors.runtime.Actor
    reply = transport.ask(envelope, timeout=5).result()   # envelope.target == "echo"
    transport.close()                                     # flushes, then disconnects

It implements `actors.runtime.Transport` (read its contract) on top of three small parts:
`IoThread` (connection.py: the one thread that touches pika, reconnecting with backoff),
`Publisher` (publisher.py: outbox and confirms) and `Consumers` (consumer.py: channels,
prefetch, batched acks held back until the handler's output is confirmed).
Callers see one error type, `actors.runtime.TransportError`; `ConfigError` (a subclass)
for a bad URL or option. See docs/transport.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future
from typing import Any, Sequence

from actors.runtime.clock import Clock, RealClock
from actors.runtime.transport import AccessRefused, Delivery, OnDelivery, Transport, TransportError, is_group
from messages import Envelope, MessageError, encode
from rabbitmq import topology
from rabbitmq.config import BrokerConfig, parse_url, with_options
from rabbitmq.connection import IoThread
from rabbitmq.consumer import Consumers
from rabbitmq.frames import Unpublishable
from rabbitmq.journal_check import JournalCheck
from rabbitmq.journal_copies import JournalCopies
from rabbitmq.publisher import Publisher

log = logging.getLogger(__name__)

_MAX_REASON = 4000  # characters of a dead letter's reason kept in its header
_JOURNAL_HEADERS = {topology.JOURNAL_HEADER: 1}  # sent mandatory: a return means no journal stream
_JOURNAL_RECHECK = 30.0  # seconds without journal copies once the broker says there is no stream
_GROUP_HEADERS = {"x-mesobus-group": 1}  # likewise
_UNSUBSCRIBE_WAIT = 10.0  # seconds unsubscribe() waits for the channel to close


class AmqpTransport(Transport):
    """The RabbitMQ transport. Thread-safe: publish/ack/dead_letter from any thread.

    `url` is an amqp:// or amqps:// URL (options in its query, see rabbitmq.config) or a
    BrokerConfig; keyword arguments override the URL's options. `confirm_timeout` is
    the default of `flush()` and of the flush `close()` does.
    """

    def __init__(
        self,
        url: str | BrokerConfig = "amqp://guest:guest@127.0.0.1:5672/%2F",
        *,
        prefetch: int | None = None,
        queue_type: str | None = None,
        send_timeout: float | None = None,
        confirm_timeout: float = 10.0,
        clock: Clock | None = None,
        fence: Any = None,
        **options: Any,
    ) -> None:
        overrides = dict(options, prefetch=prefetch, queue_type=queue_type, send_timeout=send_timeout)
        if isinstance(url, BrokerConfig):
            self.config = with_options(url, **overrides)
        else:
            self.config = parse_url(url, **overrides)
        self.confirm_timeout = confirm_timeout
        self.clock = clock or RealClock()
        self._own_clock = clock is None
        self._stats: Counter[str] = Counter()
        self._closed = False
        self._batching = _Depth()  # per thread: how deep in batch() it is
        self.user = self.config.username  # stamped on every publish (user_id), verified by the broker
        # Leadership (rabbitmq/leader.py LeaderFence): when set, consuming starts on a
        # connection only once the fence holds the leader lock on that same connection.
        self._fence = fence
        self._io = IoThread(self.config, on_open=self._on_open, on_lost=self._on_lost, on_refused=self._on_refused)
        self._publisher = Publisher(self._io, self.config, self._stats)
        self._consumers = Consumers(self._io, self.config, self._publisher, self._stats)
        self._copies = JournalCopies(self._send_journal_batch, self.clock, user=self.user)
        self._journal_check = JournalCheck(
            self._resend_journal_batch, lambda: self._copies.pause(_JOURNAL_RECHECK), self.clock.call_later,
        )
        self._publisher.on_no_journal = self._journal_check.returned
        if not self.config.journal:
            self._copies.stop()
        self._io.start()

    # --- the Transport interface ------------------------------------------------------

    def subscribe(
        self, address: str, on_delivery: OnDelivery, *, durable: bool = True, groups: Sequence[str] = (),
        exclusive: bool = False,
    ) -> None:
        """Declare and bind `address`'s queue (also to its `groups`' routing keys) and
        consume it; returns once consuming, so that what is published afterwards finds the
        queue. Raises TransportError if that takes longer than send_timeout or the
        declaration fails (e.g. other arguments); AccessRefused if the broker refuses the
        user. Until the first connection ever opens (a process starting while the broker
        is down), it waits for the broker however long, logging each retry. `exclusive`:
        an exclusive consumer (the broker refuses every other consumer of the queue while
        it lives)."""
        self._check_open()
        self._check_refused()
        spec = topology.mailbox(address, durable=durable, queue_type=self.config.queue_type, groups=groups)
        sub = self._consumers.add(address, on_delivery, spec, exclusive=exclusive)
        if self._io.in_io_thread():
            return  # cannot wait on ourselves; consuming starts shortly
        timeout = self.config.send_timeout
        deadline = time.monotonic() + timeout
        while not sub.ready.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
            if not self._io.connections and not self._io.refused and not self._closed:
                deadline = time.monotonic() + timeout  # starting: the broker is not there yet
            if time.monotonic() < deadline:
                continue
            self._consumers.forget(sub)
            raise TransportError(
                f"cannot subscribe {address}: not consuming after {timeout:g}s "
                f"(broker {self.config.url}, last error: {self._io.last_error})"
            )
        if self._io.refused:
            self._consumers.forget(sub)
            self._check_refused()
        if sub.error and not sub.started_once:
            self._consumers.forget(sub)
            error = AccessRefused if sub.refused else TransportError
            raise error(f"cannot subscribe {address} (queue {spec.queue}): {sub.error}")

    def unsubscribe(self, address: str) -> None:
        """Stop consuming; unsettled deliveries go back to the queue (the broker requeues
        them when the subscription's channel closes)."""
        sub = self._consumers.remove(address)
        if sub is not None and not self._io.in_io_thread():
            sub.closed.wait(_UNSUBSCRIBE_WAIT)

    def publish(self, envelope: Envelope) -> None:
        """Send to `envelope.target`'s mailbox. Waits out an outage up to send_timeout,
        then raises TransportError (and the message is not sent)."""
        body = encode(envelope)
        if is_group(envelope.target):  # a broadcast: not mandatory (no members is no error)
            self._publisher.publish(
                topology.EXCHANGE, envelope.target, body, _GROUP_HEADERS, defer=self._batching.depth > 0,
            )
        else:
            self._publisher.publish(topology.EXCHANGE, envelope.target, body, defer=self._batching.depth > 0)
        self._copies.add(body)

    def batch(self) -> "_Batch":
        """Publishes from this thread inside `with transport.batch():` are sent together
        at its end (on this thread if the I/O thread is idle: no wake-up). Nestable."""
        return _Batch(self)

    def ask(self, envelope: Envelope, timeout: float | None = None) -> "Future[Envelope]":
        with _Batch(self):
            future = super().ask(envelope, timeout)
            # Sent now, from this thread if the I/O thread is idle: the asker is about to
            # wait for the answer (even inside an outer batch, e.g. in a handler).
            self._publisher.send_now()
        return future

    def record(self, envelope: Envelope) -> None:
        """A journal record: batched with the copies of what this transport publishes
        and sent to the key `journal`, which only the journal stream is bound for (not
        mandatory: dropped when the journal is off)."""
        if self._copies.on:  # off: not even encoded
            self._copies.add(encode(envelope))

    @property
    def journaling(self) -> bool:
        """Whether journal copies and records are gathered now (False after
        stop_journal(), `?journal=0`, or while no journal stream is bound)."""
        return self._copies.on

    def stop_journal(self) -> None:
        """No journal for this process (`--no-journal`): nothing gathered, encoded or sent."""
        self._copies.stop()

    def _send_journal_batch(self, envelope: Envelope) -> None:
        # Never waits out an outage: the batch timer runs on the clock's thread, which
        # every timer of this process (ask timeouts, actors' delays) shares. A batch only
        # copies what was published, and publishing does wait, so the outbox stays bounded.
        try:
            self._publisher.publish(
                topology.EXCHANGE, envelope.target, encode(envelope), _JOURNAL_HEADERS,
                defer=self._batching.depth > 0, wait=False,
            )
        except (MessageError, Unpublishable) as err:  # a batch of huge messages: the journal loses it, says so
            # The codec refuses a record over MAX_MESSAGE_BYTES before the publisher could
            # refuse it over max_message_bytes; either way this must not reach the publish
            # that filled the batch (its own message was sent) nor the clock's thread.
            log.error("mesobus: a journal batch was not sent: %s", err)

    def _resend_journal_batch(self, body: bytes) -> None:
        """A returned batch sent again (rabbitmq/journal_check.py: the stream was not up)."""
        if self._closed or not self._copies.on:
            return
        try:
            self._publisher.publish(topology.EXCHANGE, topology.JOURNAL, body, _JOURNAL_HEADERS, wait=False)
        except TransportError as err:
            log.error("mesobus: a journal batch was not sent again: %s", err)

    def publish_raw(self, address: str, body: bytes) -> None:
        """Put bytes into a mailbox as they are (tests inject malformed messages)."""
        self._publisher.publish(topology.EXCHANGE, address, body)

    def ack(self, delivery: Delivery) -> None:
        """Settle a delivery; the broker gets the ack once everything published before
        this call is confirmed. Never raises; acks of deliveries from a lost connection
        are dropped (those come back anyway)."""
        self._consumers.settle(delivery.tag, self._publisher.seq)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move the raw bytes to `mesobus.dead` with headers x-mesobus-reason and
        x-mesobus-address, then ack the delivery once that copy is confirmed. If the
        copy cannot be sent (outage past send_timeout) the delivery stays unsettled and
        comes back after the reconnect; this never raises."""
        headers = {topology.REASON_HEADER: reason[:_MAX_REASON], topology.ADDRESS_HEADER: delivery.address}
        try:
            seq = self._publisher.publish(topology.DLX, delivery.address, delivery.body, headers)
        except TransportError as err:
            log.error("mesobus: cannot dead-letter a message of %s (%s): %s", delivery.address, reason, err)
            return
        self._stats["dead_lettered"] += 1
        self._consumers.settle(delivery.tag, seq)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything published so far is confirmed by the broker."""
        timeout = self.confirm_timeout if timeout is None else timeout
        self._publisher.send_now()  # what this thread's batch holds back must go too
        seq = self._publisher.seq
        if not self._publisher.wait_confirmed(seq, timeout):
            raise TransportError(
                f"{seq - self._publisher.watermark} messages not confirmed by {self.config.url} "
                f"after {timeout:g}s (connected: {self._io.connected}, last error: {self._io.last_error})"
            )

    def close(self, timeout: float | None = None) -> None:
        """Flush (up to `timeout`, default confirm_timeout), send pending acks, disconnect.
        Unsettled deliveries go back to their queues."""
        if self._closed:
            return
        self._copies.flush()
        self._closed = True
        try:
            if self._io.connected:
                self.flush(timeout)
        except TransportError as err:
            log.error("mesobus: closing with unconfirmed messages: %s", err)
        self._io.call_soon(self._consumers.flush_acks)
        self._publisher.close()
        self._io.close()
        self._copies.close()
        if self._own_clock:
            self.clock.close()

    # --- introspection ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._io.connected

    @property
    def refused(self) -> TransportError | None:
        """AccessRefused (or CertificateRejected) once the broker refused this transport's
        user: it never connects again."""
        return self._io.refused

    @property
    def last_error(self) -> str:
        """Why the last connection attempt failed or the last connection closed."""
        return self._io.last_error

    def stats(self) -> dict[str, int]:
        """Counters: published, confirmed, nacked, unroutable, republished, acked,
        stale_acks, dead_lettered, connections; and unconfirmed right now."""
        counts = dict(self._stats)
        counts["unconfirmed"] = self._publisher.unconfirmed()
        counts["connections"] = self._io.connections
        return counts

    # --- I/O thread hooks -----------------------------------------------------------------

    def _on_open(self, connection: Any) -> None:
        self._journal_check.connection = connection  # asks it about returned journal batches
        # Queues are bound to the `mesobus` exchange: declare it before the subscriptions.
        def consume() -> None:
            self._consumers.attach(connection)

        if self._fence is not None:  # consume only while this connection holds the lock
            self._publisher.attach(connection, ready=lambda: self._fence.take(self._io, connection, consume))
        else:
            self._publisher.attach(connection, ready=consume)

    def _on_lost(self, reason: str) -> None:
        self._journal_check.connection = None
        self._publisher.detach()
        self._consumers.detach()
        if self._fence is not None:
            self._fence.connection_lost(reason)

    def _on_refused(self, error: TransportError) -> None:
        self._publisher.refuse(error)
        self._consumers.refuse(error)

    def _check_refused(self) -> None:
        refused = self._io.refused
        if refused is not None:
            raise type(refused)(str(refused))

    def _check_open(self) -> None:
        if self._closed:
            raise TransportError("the transport is closed")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self._io.connected else "connecting"
        return f"<AmqpTransport {self.config.url} {state}>"


class _Depth(threading.local):
    depth = 0


class _Batch:
    """`AmqpTransport.batch()`: defer this thread's publishes, send them at the end."""

    __slots__ = ("_transport",)

    def __init__(self, transport: AmqpTransport) -> None:
        self._transport = transport

    def __enter__(self) -> None:
        self._transport._batching.depth += 1

    def __exit__(self, *_exc: Any) -> None:
        batching = self._transport._batching
        batching.depth -= 1
        if not batching.depth:
            self._transport._publisher.send_now()
