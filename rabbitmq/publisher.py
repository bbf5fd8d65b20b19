"""Publishing with publisher confirms, without a round trip per message.

Any thread calls `publish(...)`: the message gets the next sequence number and joins the
outbox; the I/O thread sends the outbox in order on a confirm-mode channel and keeps
each message until the broker confirms it (acks with `multiple` are handled in one step).

`watermark` is the highest sequence number such that it and everything before it are
confirmed. A delivery's ack waits until the watermark reaches the sequence number current
when `ack()` was called (see consumer.py), so a crash right after the ack cannot lose what
the handler sent. Nacked messages are sent again; unconfirmed ones are sent again after a
reconnect, in their original order (at-least-once: duplicates are possible, losses not).

Refusing at the door: a message that no frame can carry (an exchange or routing key over
AMQP's 255-byte short string, a body over the broker's `max_message_bytes`) raises
`Unpublishable` from `publish()`, to the caller; it never reaches the outbox, where it
would be kept for resending forever and wedge the publisher.

Identity: every publish carries the `user_id` property, the connection's user, which
RabbitMQ verifies (a publish with another user id closes the channel), so a receiver
knows who sent it (`Delivery.user_id`).

Mandatory publishing: a message no queue is bound for comes back (basic.return); it goes
on to the dead letters with reason "unroutable", keeping its sequence number, so whatever
waits for it waits for the dead letter to be confirmed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from typing import Any, Callable, NamedTuple

import pika
from pika.spec import Basic

from actors.runtime.transport import AccessRefused, TransportError
from rabbitmq import topology
from rabbitmq.config import BrokerConfig
from rabbitmq.connection import IoThread, describe, guarded, refusal
from rabbitmq.frames import PublishFrames, check_publishable
from rabbitmq.topology import JOURNAL, JOURNAL_HEADER

log = logging.getLogger(__name__)

_new_outgoing = tuple.__new__  # skips the NamedTuple's Python-level __new__ (hot path)
UNROUTABLE_REPEAT_SECONDS = 60.0  # an unroutable address is named again at most this often
_DEFER_LIMIT = 1000  # deferred messages in the outbox beyond which the I/O thread is woken


class Outgoing(NamedTuple):
    seq: int
    exchange: str
    routing_key: str
    body: bytes
    headers: dict[str, Any] | None = None  # dead letters carry reason and address


class Publisher:
    """The outbox, the confirm-mode channel and the bookkeeping of unconfirmed messages."""

    def __init__(self, io: IoThread, config: BrokerConfig, stats: Counter[str]) -> None:
        self._io = io
        self._config = config
        self._stats = stats
        self._unroutable_said: dict[str, tuple[float, int]] = {}  # address -> (last said, since)
        self._persistent = pika.BasicProperties(delivery_mode=2, user_id=config.username)
        self._lock = threading.Lock()  # `with self._lock` where no wait/notify: C-level, cheaper
        self._cond = threading.Condition(self._lock)
        self.seq = 0  # the last sequence number handed out (written under _cond)
        self.watermark = 0  # every seq <= watermark is confirmed (written by the I/O thread)
        self.on_advance: Callable[[int], None] = lambda watermark: None  # I/O thread hook
        self.on_no_journal: Callable[[bytes], None] = lambda body: None  # a journal batch came back (I/O thread)
        self._outbox: deque[Outgoing] = deque()
        self._scheduled = False
        self._ready = False  # the channel is open, in confirm mode, topology declared
        self._closed = False
        self._refused: TransportError | None = None  # the broker refused us: raised from now on
        self._waiters = 0
        # --- the I/O thread only ---
        self._channel: Any = None
        self._frames: PublishFrames | None = None  # builds plain publishes on _channel
        self._next_tag = 1
        self._sent_seq = 0  # the highest seq taken from the outbox
        self._unconfirmed: deque[tuple[int, Outgoing]] = deque()  # (tag, msg), in tag order
        self._early: set[int] = set()  # tags confirmed singly before the ones ahead of them
        self._recarried: dict[int, Outgoing] = {}  # tag -> resent message keeping an old seq
        self._resend: deque[Outgoing] = deque()  # unconfirmed at a disconnect, in seq order
        self._returned: set[int] = set()  # tags that came back unroutable, not yet acked

    # --- any thread -------------------------------------------------------------------

    def publish(
        self, exchange: str, routing_key: str, body: bytes, headers: dict[str, Any] | None = None,
        *, defer: bool = False, wait: bool = True,
    ) -> int:
        """Queue one persistent message; returns its sequence number. Waits (up to
        send_timeout) while disconnected or while max_inflight messages are unconfirmed,
        then raises TransportError; the message is then not sent.

        `defer=True` (not on the I/O thread): the caller promises to call `send_now()`
        soon, so the I/O thread is not woken now (a batch, an ask about to wait).
        `wait=False`: queue it at once even then (sent after the reconnect), for a
        caller that must not block and whose messages are bounded otherwise.
        Raises Unpublishable (a TransportError) for a message no frame can carry."""
        if len(routing_key) > 63 or len(body) > 65536 or len(exchange) > 63:  # short ones fit
            check_publishable(exchange, routing_key, body, self._config.max_message_bytes)
        on_io = self._io.in_io_thread()
        with self._lock:
            if wait and not on_io and (not self._ready or self.seq - self.watermark >= self._config.max_inflight):
                self._wait_for_room()
            if self._closed:
                raise TransportError("the transport is closed")
            self.seq = seq = self.seq + 1
            outbox = self._outbox
            outbox.append(_new_outgoing(Outgoing, (seq, exchange, routing_key, body, headers)))
            wake = not self._scheduled and (on_io or not defer or len(outbox) >= _DEFER_LIMIT)
            if wake:
                self._scheduled = True
        if wake:
            if on_io:
                self._drain()
            else:
                self._io.call_soon(self._drain)
        return seq

    def send_now(self) -> None:
        """Send what publish(defer=True) left in the outbox: on this thread if the I/O
        thread is idle (no wake-up, no thread switch), else through the I/O thread."""
        if self._scheduled or not self._outbox:
            return  # a drain is on its way, or nothing to send
        if self._io.run_here(self._drain):
            return
        with self._cond:
            if self._scheduled or not self._outbox:
                return
            self._scheduled = True
        self._io.call_soon(self._drain)

    def wait_confirmed(self, seq: int, timeout: float) -> bool:
        """Wait until every message up to `seq` is confirmed; False on timeout."""
        with self._cond:
            self._waiters += 1
            try:
                return self._cond.wait_for(lambda: self.watermark >= seq or self._closed, timeout)
            finally:
                self._waiters -= 1

    def unconfirmed(self) -> int:
        return self.seq - self.watermark

    @property
    def drain_scheduled(self) -> bool:
        """A drain is on its way to the I/O thread (so a loop turn is coming)."""
        return self._scheduled

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def refuse(self, error: TransportError) -> None:
        """The broker refused us: whoever waits (and publishes later) gets `error`."""
        with self._cond:
            self._refused = error
            self._cond.notify_all()

    def _wait_for_room(self) -> None:
        if self._outbox and not self._scheduled:  # deferred messages count: send them
            self._scheduled = True
            self._io.call_soon(self._drain)
        timeout = self._config.send_timeout
        deadline = time.monotonic() + timeout
        self._waiters += 1
        try:
            while not self._closed and self._refused is None:
                if self._ready and self.seq - self.watermark < self._config.max_inflight:
                    return
                if not self._io.connections:  # starting: wait for the broker, however long
                    deadline = time.monotonic() + timeout
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 1.0))
        finally:
            self._waiters -= 1
        if self._refused is not None:
            raise type(self._refused)(str(self._refused))
        if self._closed:
            raise TransportError("the transport is closed")
        if not self._ready:
            raise TransportError(
                f"cannot publish: no connection to {self._config.url} for {timeout:g}s "
                f"(last error: {self._io.last_error})"
            )
        raise TransportError(
            f"cannot publish: {self.seq - self.watermark} messages still unconfirmed by "
            f"{self._config.url} after {timeout:g}s (max_inflight={self._config.max_inflight})"
        )

    # --- the I/O thread -----------------------------------------------------------------

    def attach(self, connection: Any, ready: Callable[[], None]) -> None:
        """Open the confirm-mode channel, declare the topology, resend, then `ready()`."""

        def opened(channel: Any) -> None:
            channel.add_on_close_callback(guarded(lambda _ch, reason: self._on_channel_closed(channel, reason)))
            channel.add_on_return_callback(guarded(self._on_return))
            topology.declare_topology(
                channel,
                lambda: channel.confirm_delivery(  # pika's callback: only ever used without the reader
                    guarded(self._on_confirm), callback=guarded(lambda _f: self._on_confirm_mode(channel, ready))
                ),
                guarded(lambda why: self._io.refuse(AccessRefused(f"{self._config.url}: {why}"))),
            )

        connection.channel(on_open_callback=guarded(opened))

    def detach(self) -> None:
        """The connection is gone: everything unconfirmed is sent again after reconnect."""
        self._channel = None
        self._frames = None
        with self._cond:
            self._ready = False
        returned = self._returned
        again = [msg for tag, msg in self._unconfirmed if tag not in returned]  # not to bounce twice
        again.extend(self._recarried.values())
        again.extend(self._resend)
        self._resend = deque(sorted(again, key=lambda msg: msg.seq))
        self._unconfirmed.clear()
        self._recarried.clear()
        self._early.clear()
        self._returned.clear()

    def _on_confirm_mode(self, channel: Any, ready: Callable[[], None]) -> None:
        self._channel = channel
        self._frames = None  # ?fast=0: pika's basic_publish for every message
        if self._config.fast:
            self._frames = PublishFrames(
                channel.channel_number, channel.connection.params.frame_max, user_id=self._config.username,
            )
        if self._io.reader is not None:  # reads this channel's confirms from now on
            self._io.reader.confirms(channel, guarded(self._confirmed))
        self._next_tag = 1
        resend, self._resend = self._resend, deque()
        if resend:
            self._stats["republished"] += len(resend)
            log.info("mesobus: resending %d unconfirmed messages", len(resend))
        for msg in resend:  # first, in seq order: they stay ordered in _unconfirmed
            self._send(channel, msg)
        with self._cond:
            self._ready = True
            self._cond.notify_all()
        self._drain()
        ready()

    def _on_channel_closed(self, channel: Any, reason: Any) -> None:
        connection = channel.connection
        if channel is not self._channel or self._io.closing or not connection.is_open:
            return  # the connection is going: detach() follows
        message = refusal(self._config, reason)
        if message is not None:  # no permission (e.g. to declare the exchange): not an outage
            self._channel = None
            self._io.refuse(AccessRefused(message))
            return
        # A channel error (say, someone deleted the exchange): start over on a new connection.
        log.error("mesobus: the publishing channel closed: %s; reconnecting", describe(reason))
        self._channel = None
        connection.close(320, f"publishing channel closed: {reason}")

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
            channel = self._channel
            if channel is None:
                return  # sent after the next connection is ready
            batch, self._outbox = self._outbox, deque()
        # The hot loop: plain messages inline, built by PublishFrames and written to the
        # connection in one piece; anything else through _send() (pika's basic_publish).
        connection, frames = channel.connection, self._frames
        track, tag = self._unconfirmed.append, self._next_tag
        sent = 0
        try:
            if not channel.is_open:  # pika's basic_publish would raise too
                raise TransportError(f"the publishing channel is not open ({channel})")
            for msg in batch:
                if msg.headers is None and frames is not None:
                    connection._output_marshaled_frames((frames(msg.exchange, msg.routing_key, msg.body),))
                    track((tag, msg))
                    tag += 1
                else:
                    self._next_tag = tag
                    self._send(channel, msg)
                    tag = self._next_tag
                sent += 1
        except Exception:  # the channel broke under us: keep the rest for the next one
            log.exception("mesobus: publishing failed; %d messages wait for the reconnect", len(batch) - sent)
            self._resend.extend(list(batch)[sent:])
            if channel.connection.is_open:
                channel.connection.close(320, "mesobus: publishing failed")
        finally:
            self._next_tag = tag
            if sent:
                self._sent_seq = max(self._sent_seq, batch[sent - 1].seq)
            self._stats["published"] += sent

    def _send(self, channel: Any, msg: Outgoing, *, recarried: bool = False) -> None:
        if msg.headers is None:
            channel.basic_publish(msg.exchange, msg.routing_key, msg.body, self._persistent, True)
        else:  # dead letters, broadcasts: not mandatory; journal batches: mandatory (see _on_return)
            props = pika.BasicProperties(delivery_mode=2, headers=msg.headers, user_id=self._config.username)
            channel.basic_publish(msg.exchange, msg.routing_key, msg.body, props, JOURNAL_HEADER in msg.headers)
        tag = self._next_tag
        self._next_tag = tag + 1
        if recarried:
            self._recarried[tag] = msg
        else:
            self._unconfirmed.append((tag, msg))
            if msg.seq > self._sent_seq:
                self._sent_seq = msg.seq

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        self._confirmed(method.delivery_tag, method.multiple, isinstance(method, Basic.Nack))

    def _confirmed(self, tag: int, multiple: bool, nacked: bool) -> None:
        done: list[Outgoing] = []  # nacked ones (to resend), or confirmed beyond the fast path
        confirmed = 0
        unconfirmed = self._unconfirmed
        if multiple:
            early, returned = self._early, self._returned
            while unconfirmed and unconfirmed[0][0] <= tag:
                first, msg = unconfirmed.popleft()
                if early and first in early:
                    early.discard(first)
                elif nacked:
                    done.append(msg)
                else:
                    confirmed += 1
                if returned:
                    returned.discard(first)
            if self._recarried:
                for rtag in [t for t in self._recarried if t <= tag]:
                    done.append(self._recarried.pop(rtag))
        elif tag in self._recarried:
            done.append(self._recarried.pop(tag))
        elif unconfirmed and unconfirmed[0][0] == tag:
            done.append(unconfirmed.popleft()[1])
            self._returned.discard(tag)
        elif nacked:  # rare: find the message, to send it again
            for first, msg in unconfirmed:
                if first == tag:
                    done.append(msg)
                    self._early.add(tag)
                    self._returned.discard(tag)
                    break
        elif unconfirmed and unconfirmed[0][0] < tag <= unconfirmed[-1][0]:
            # Out of order (another queue confirmed first): the message itself is not needed,
            # only that its tag is done when the ones ahead of it are (no scan: O(1)).
            self._early.add(tag)
            self._returned.discard(tag)
            confirmed += 1
        while unconfirmed and unconfirmed[0][0] in self._early:
            self._early.discard(unconfirmed.popleft()[0])
        if nacked:
            self._stats["nacked"] += len(done)
            log.warning("mesobus: the broker nacked %d messages; sending them again", len(done))
            if self._channel is not None:
                for msg in done:
                    self._send(self._channel, msg, recarried=True)
            else:
                self._resend.extend(done)
        else:
            self._stats["confirmed"] += confirmed + len(done)
        self._advance()

    def _advance(self) -> None:
        if self._unconfirmed:
            low = self._unconfirmed[0][1].seq - 1
        else:
            low = self._sent_seq
        if self._recarried:  # seq 0: a dead letter nothing waits for
            low = min([low] + [msg.seq - 1 for msg in self._recarried.values() if msg.seq])
        if self._resend:
            low = min([low] + [msg.seq - 1 for msg in self._resend if msg.seq])
        if low > self.watermark:
            self.watermark = low
            if self._waiters:
                with self._cond:
                    self._cond.notify_all()
            self.on_advance(low)

    def _say_unroutable(self, address: str, why: str) -> None:
        """One warning per address, then one a minute with the count meanwhile: a
        framework publishing to a master that is not there must not flood its log."""
        now = time.monotonic()
        said = self._unroutable_said
        last, since = said.get(address, (None, 0))
        if last is not None and now - last < UNROUTABLE_REPEAT_SECONDS:
            said[address] = (last, since + 1)
            return
        if len(said) >= 1000:  # addresses come from outside: keep the memory bounded
            said.clear()
        said[address] = (now, 0)
        more = f" ({since} more in the last {UNROUTABLE_REPEAT_SECONDS:.0f}s)" if since else ""
        log.warning("mesobus: no mailbox for %r (%s); dead-lettering the message%s", address[:255], why, more)

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        """An unroutable message came back: dead-letter it, keeping its sequence number.
        A journal batch coming back goes to `on_no_journal` (rabbitmq/journal_check.py):
        sent again if the stream is only not up yet, else journal copies pause."""
        if method.routing_key == JOURNAL and properties is not None and JOURNAL_HEADER in (properties.headers or {}):
            for tag, msg in self._unconfirmed:  # not to be sent again after a reconnect (the check does)
                if msg.routing_key == JOURNAL and tag not in self._returned and msg.body == body:
                    self._returned.add(tag)
                    break
            self._stats["journal_returned"] += 1
            self.on_no_journal(body)
            return
        self._stats["unroutable"] += 1
        self._say_unroutable(method.routing_key, method.reply_text)
        seq = 0
        for tag, msg in self._unconfirmed:  # the return comes just before that message's ack
            if msg.routing_key == method.routing_key and tag not in self._returned and msg.body == body:
                seq = msg.seq
                self._returned.add(tag)
                break
        headers = {topology.REASON_HEADER: topology.UNROUTABLE, topology.ADDRESS_HEADER: method.routing_key}
        dead = Outgoing(seq, topology.DLX, method.routing_key, body, headers)
        if channel is self._channel:
            self._send(channel, dead, recarried=True)
        else:
            self._resend.append(dead)
