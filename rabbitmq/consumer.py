"""Consuming mailboxes: one channel per subscribed address, batched acks behind confirms.

Each subscription has its own channel (so `basic_ack(multiple=True)` only ever covers
its own deliveries, and a failed declaration closes only its channel), a bounded
`basic_qos` prefetch, and its queue declared and bound before `subscribe()` returns.

Settling: `settle(tag, need)` may be called from any thread without waking the I/O
thread each time: it picks settlements up every `ack_interval` seconds, or at once when
`ack_batch` are waiting. It settles a delivery once the publisher's watermark reaches
`need` (everything the handler published is confirmed), then acks the longest settled
run of delivery tags with one `basic_ack(multiple=True)`: at once for a full batch, else
at the end of the current I/O loop turn.
A delivery's tag is `(subscription, generation, delivery_tag)`; after a reconnect the
generation changes and settlements of old deliveries are dropped: the broker redelivers
those anyway.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter, deque
from typing import Any

from actors.runtime.transport import Delivery, OnDelivery
from rabbitmq import topology
from rabbitmq.config import BrokerConfig
from rabbitmq.connection import IoThread, describe, guarded, refusal
from rabbitmq.publisher import Publisher

log = logging.getLogger(__name__)

_new_delivery = tuple.__new__  # Delivery is a NamedTuple: skip its Python-level __new__
_RETRY_DELAY = 1.0  # seconds before a subscription whose channel broke is started again


class Subscription:
    """One consumed mailbox. Mutable state belongs to the I/O thread."""

    def __init__(
        self, address: str, on_delivery: OnDelivery, spec: topology.MailboxSpec, exclusive: bool = False,
    ) -> None:
        self.address = address
        self.exclusive = exclusive  # an exclusive consumer: the broker refuses any other
        self.on_delivery = on_delivery
        self.spec = spec
        self.ready = threading.Event()  # consuming (or failed: see error)
        self.closed = threading.Event()  # unsubscribed and its channel closed
        self.error = ""
        self.refused = False  # the error is the broker refusing the user (AccessRefused)
        self.started_once = False
        self.state = "idle"  # idle | opening | consuming | closing
        self.generation = 0
        self.channel: Any = None
        self.settled = 0  # every delivery tag <= settled is settled
        self.early: set[int] = set()  # settled tags above a gap
        self.acked = 0  # the highest tag acked to the broker
        self.held = 0  # settlements waiting for confirms

    def __repr__(self) -> str:
        return f"<Subscription {self.address} {self.state} gen={self.generation}>"


class Consumers:
    """All subscriptions of one transport, and the settling of their deliveries."""

    def __init__(self, io: IoThread, config: BrokerConfig, publisher: Publisher, stats: Counter[str]) -> None:
        self._io = io
        self._config = config
        self._publisher = publisher
        self._stats = stats
        self._batch = config.effective_ack_batch
        self._lock = threading.Lock()
        self._subs: dict[str, Subscription] = {}
        self._generations = itertools.count(1)
        self._connection: Any = None
        self._settling: deque[tuple[tuple[Subscription, int, int], int]] = deque()  # any thread -> I/O
        self._armed = False  # a pick-up of settlements is on its way (wake-up, then timer)
        self._held: deque[tuple[tuple[Subscription, int, int], int]] = deque()  # waiting for confirms
        self._dirty: set[Subscription] = set()  # settled but not yet acked
        self._drain_timer: Any = None  # picks up settlements from other threads
        self._ack_timer: Any = None  # sends partial ack batches after ack_interval
        publisher.on_advance = self._on_watermark
        io.each_turn(self._pick_up)
        io.before_send(self._ride_along)

    # --- any thread -------------------------------------------------------------------

    def add(
        self, address: str, on_delivery: OnDelivery, spec: topology.MailboxSpec, *, exclusive: bool = False,
    ) -> Subscription:
        sub = Subscription(address, on_delivery, spec, exclusive)
        with self._lock:
            if address in self._subs:
                raise ValueError(f"{address} already has a consumer")
            self._subs[address] = sub
        self._io.call_soon(lambda: self._start(sub))
        return sub

    def remove(self, address: str) -> Subscription | None:
        with self._lock:
            sub = self._subs.pop(address, None)
        if sub is not None:
            self._io.call_soon(lambda: self._stop(sub))
        return sub

    def forget(self, sub: Subscription) -> None:
        """Drop a subscription that failed to start."""
        with self._lock:
            if self._subs.get(sub.address) is sub:
                del self._subs[sub.address]
        self._io.call_soon(lambda: self._stop(sub))

    def settle(self, tag: tuple[Subscription, int, int], need: int) -> None:
        """Ack this delivery once every message up to sequence `need` is confirmed.

        Cheap on purpose: no wake-up of the I/O thread per call. Every turn of the I/O
        loop picks up what was handed over. A settlement that waits for a confirm needs
        nothing more (the confirm brings a turn); else, unless a drain of the outbox is
        on its way, the first settlement of a burst wakes the I/O thread to arm a timer
        (ack_interval). A full batch wakes it at once."""
        if threading.get_ident() == self._io.ident:
            self._settle_or_hold(tag, need)
            self._flush_full()
            return
        settling = self._settling
        settling.append((tag, need))
        if len(settling) == self._batch:
            self._io.call_soon(self._drain)
        elif not self._armed and need <= self._publisher.watermark and not self._publisher.drain_scheduled:
            self._armed = True
            self._io.call_soon(self._arm_drain)

    def refuse(self, error: Exception) -> None:
        """The broker refused us: every subscribe() waiting gives up at once."""
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            sub.error, sub.refused = str(error), True
            sub.ready.set()

    # --- the I/O thread: subscriptions --------------------------------------------------

    def attach(self, connection: Any) -> None:
        self._connection = connection
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            self._start(sub)
        self._drain()

    def detach(self) -> None:
        """The connection is gone, and every channel with it: unacked deliveries come back."""
        self._connection = None
        with self._lock:
            subs = list(self._subs.values())
        for sub in subs:
            self._reset(sub)
        self._held.clear()
        self._dirty.clear()

    def _reset(self, sub: Subscription) -> None:
        sub.channel = None
        sub.generation = 0
        sub.held = 0
        if sub.state == "closing":
            sub.closed.set()
        else:
            sub.state = "idle"

    def _start(self, sub: Subscription) -> None:
        if self._connection is None or sub.state != "idle" or sub.closed.is_set():
            return
        with self._lock:
            if self._subs.get(sub.address) is not sub:
                return  # unsubscribed meanwhile
        sub.state = "opening"
        sub.generation = generation = next(self._generations)
        self._connection.channel(on_open_callback=guarded(lambda ch: self._opened(sub, generation, ch)))

    def _opened(self, sub: Subscription, generation: int, channel: Any) -> None:
        if sub.generation != generation or sub.state != "opening":
            channel.close()  # superseded, or unsubscribed while opening
            if sub.generation == generation:
                sub.closed.set()
            return
        sub.channel = channel
        sub.settled = sub.acked = 0
        sub.early.clear()
        channel.add_on_close_callback(guarded(lambda ch, why: self._channel_closed(sub, generation, ch, why)))
        channel.add_on_cancel_callback(guarded(lambda _frame: self._broker_cancelled(sub, generation)))

        on_message = self._on_message(sub, generation)

        def consume() -> None:
            reader = self._io.reader
            if reader is not None:  # it reads this channel's deliveries from now on
                reader.consume(channel, on_message)
            channel.basic_consume(  # pika's callback: only ever used without the reader
                sub.spec.queue,
                lambda _ch, method, props, body: on_message(
                    method.delivery_tag, method.redelivered, body, props.user_id or "",
                ),
                exclusive=sub.exclusive,
                callback=guarded(lambda _frame: self._consuming(sub, generation)),
            )

        channel.basic_qos(
            prefetch_count=self._config.prefetch,
            callback=guarded(lambda _f: topology.declare_mailbox(channel, sub.address, sub.spec, consume)),
        )

    def _consuming(self, sub: Subscription, generation: int) -> None:
        if sub.generation != generation:
            return
        if sub.state == "closing":
            self._stop(sub)
            return
        sub.state = "consuming"
        sub.started_once = True
        sub.error = ""
        sub.ready.set()

    def _on_message(self, sub: Subscription, generation: int) -> Any:
        """The callback for one subscription's deliveries, called by the DeliveryReader
        (the hot path: kept flat).

        Deliveries are collected during the loop turn and handed to `on_delivery` at its
        end, in order: an actor is then woken once per burst, when this thread is about
        to wait (and so to release the GIL) rather than in the middle of parsing."""
        address, on_delivery, at_turn_end = sub.address, sub.on_delivery, self._io.at_turn_end
        arrived: list[Delivery] = []

        def on_message(delivery_tag: int, redelivered: bool, body: bytes, user_id: str) -> None:
            if sub.state == "closing":
                return  # requeued when the channel closes
            arrived.append(
                _new_delivery(Delivery, (address, body, (sub, generation, delivery_tag), redelivered, user_id))
            )
            if len(arrived) == 1:
                at_turn_end(hand_over)

        def hand_over() -> None:
            batch = arrived[:]
            arrived.clear()
            if sub.generation != generation or sub.state == "closing":
                return  # the channel closed meanwhile: the broker requeues these
            for delivery in batch:
                try:
                    on_delivery(delivery)
                except Exception as err:  # e.g. the actor already stopped: the delivery comes back later
                    log.warning("mesobus: %s could not take a delivery (%r); it stays unacked", address, err)

        return on_message

    def _channel_closed(self, sub: Subscription, generation: int, channel: Any, why: Any) -> None:
        if self._io.reader is not None:
            self._io.reader.forget(channel)
        if sub.generation != generation:
            return
        sub.channel = None
        sub.generation = 0
        if sub.state == "closing":
            sub.closed.set()
            return
        sub.state = "idle"
        connection = self._connection
        if connection is None or not connection.is_open or self._io.closing:
            return  # the connection is going: detach() / attach() take care of it
        refused = refusal(self._config, why)
        sub.error, sub.refused = refused or describe(why), refused is not None
        if not sub.started_once:  # a declaration failed (e.g. 406, or 403: no permission)
            log.error("mesobus: cannot consume %s: %s", sub.address, sub.error)
            sub.ready.set()
            return
        log.warning("mesobus: the channel of %s closed (%s); restarting it", sub.address, sub.error)
        self._io.call_later(_RETRY_DELAY, lambda: self._start(sub))

    def _broker_cancelled(self, sub: Subscription, generation: int) -> None:
        # The queue was deleted (or failed over): reopen, which declares it again.
        if sub.generation == generation and sub.channel is not None and sub.channel.is_open:
            log.warning("mesobus: the broker cancelled the consumer of %s; restarting it", sub.address)
            sub.channel.close()

    def _stop(self, sub: Subscription) -> None:
        """Unsubscribe: cancel, ack what was settled, close the channel; the broker
        requeues what is left unacked (like MemoryTransport.unsubscribe)."""
        self._drain()  # settlements handed over before the unsubscribe
        previous, sub.state = sub.state, "closing"
        channel = sub.channel
        if previous == "opening":
            return  # _opened() or _consuming() come back here
        if channel is None:
            sub.closed.set()
            return
        if sub.held:
            return  # _on_watermark() comes back here once its acks are released
        self._send_ack(sub)
        if channel.is_open:
            channel.close()
        else:
            sub.closed.set()

    # --- the I/O thread: settling -------------------------------------------------------

    def _arm_drain(self) -> None:
        if self._drain_timer is None:
            self._drain_timer = self._io.call_later(self._config.ack_interval, self._timed_drain)

    def _timed_drain(self) -> None:
        self._drain_timer = None
        self._armed = False  # before draining: a settlement that saw it set is drained here
        self._drain()
        self._flush_all()  # what is left has waited an ack_interval already

    def _pick_up(self) -> None:
        """Every loop turn: settle what other threads handed over meanwhile."""
        if self._settling:
            self._drain()

    def _drain(self) -> None:
        settling, dirty = self._settling, self._dirty
        watermark = self._publisher.watermark  # moves only on this thread
        while settling:
            tag, need = settling.popleft()
            sub, generation, delivery_tag = tag
            if (
                delivery_tag == sub.settled + 1 and need <= watermark and not sub.early
                and sub.generation == generation and sub.channel is not None
            ):  # the common case, inline: the next tag in order, nothing to wait for
                sub.settled = delivery_tag
                dirty.add(sub)
            else:
                self._settle_or_hold(tag, need)
        self._flush_full()

    def _settle_or_hold(self, tag: tuple[Subscription, int, int], need: int) -> None:
        if need <= self._publisher.watermark:
            self._settle(tag)
        else:
            sub, generation, _ = tag
            if sub.generation == generation:
                sub.held += 1
                self._held.append((tag, need))
            else:
                self._stats["stale_acks"] += 1

    def _on_watermark(self, watermark: int) -> None:
        held = self._held
        if not held or held[0][1] > watermark:
            return
        while held and held[0][1] <= watermark:
            tag, _ = held.popleft()
            sub = tag[0]
            if sub.generation == tag[1]:
                sub.held -= 1
                self._settle(tag)
                if sub.state == "closing" and not sub.held:
                    self._stop(sub)
        self._flush_full()

    def _settle(self, tag: tuple[Subscription, int, int]) -> None:
        sub, generation, delivery_tag = tag
        if sub.generation != generation or sub.channel is None:
            self._stats["stale_acks"] += 1
            return
        if delivery_tag == sub.settled + 1:
            sub.settled = delivery_tag
            early = sub.early
            while early and sub.settled + 1 in early:
                sub.settled += 1
                early.discard(sub.settled)
        elif delivery_tag > sub.settled:
            sub.early.add(delivery_tag)
        if sub.settled > sub.acked:
            self._dirty.add(sub)

    def _flush_full(self) -> None:
        """Ack full batches now; the rest goes with the next output (_ride_along) or
        after ack_interval, whichever comes first: an ack alone costs a send() and a
        TCP segment on both ends."""
        if not self._dirty:
            return
        for sub in [s for s in self._dirty if s.settled - s.acked >= self._batch]:
            self._send_ack(sub)
        if self._dirty and self._ack_timer is None:
            self._ack_timer = self._io.call_later(self._config.ack_interval, self._on_ack_timer)

    def _on_ack_timer(self) -> None:
        self._ack_timer = None
        self._flush_all()

    def _ride_along(self) -> None:
        """Output is about to be sent: pending acks go with it."""
        if self._dirty:
            self._flush_all()

    def flush_acks(self) -> None:
        """Send every pending ack now (close() uses it)."""
        self._drain()
        self._flush_all()

    def _flush_all(self) -> None:
        for sub in list(self._dirty):
            self._send_ack(sub)
        if self._ack_timer is not None:
            self._io.remove_timeout(self._ack_timer)
            self._ack_timer = None

    def _send_ack(self, sub: Subscription) -> None:
        self._dirty.discard(sub)
        if sub.settled > sub.acked and sub.channel is not None and sub.channel.is_open:
            sub.channel.basic_ack(sub.settled, multiple=True)
            self._stats["acked"] += sub.settled - sub.acked
            sub.acked = sub.settled
