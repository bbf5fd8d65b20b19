"""Every mailbox in one process: for `mesobus local`/`demo`, unit tests, simulation, replay.

Messages are encoded and decoded exactly as on the broker, so validation, dead letters
and the journal behave the same. With a `VirtualClock`, tests advance time by hand and
call `settle()` to wait until every published message has been handled.

>>> from messages import Envelope, PongAgent
>>> t = MemoryTransport()
>>> got = []
>>> t.subscribe("master", lambda d: (got.append(d.body), t.ack(d)))
>>> t.publish(Envelope(id="1", sender="agent.a", target="master", body=PongAgent("a")))
>>> t.settle(); len(got)
1
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Callable, Sequence

from actors.runtime.clock import Clock, RealClock
from actors.runtime.transport import DEAD_LETTERS, DeadLetter, Delivery, OnDelivery, Transport, is_group
from messages import Envelope, encode


class _Mailbox:
    def __init__(self) -> None:
        self.queue: deque[Delivery] = deque()
        self.consumer: OnDelivery | None = None
        self.unacked: dict[int, Delivery] = {}


class MemoryTransport(Transport):
    """`user` is the principal every publish is stamped with (as a broker connection's
    user); `as_user(name)` gives a view that publishes as another principal, so that unit
    tests can play a framework, an agent or an attacker beside the cluster."""

    def __init__(self, clock: Clock | None = None, *, user: str = "mesobus") -> None:
        self.clock = clock or RealClock()
        self.user = user
        self.dead_letters: list[DeadLetter] = []
        self.taps: list[Callable[[Envelope, bytes], None]] = []  # e.g. the journal
        self._mailboxes: dict[str, _Mailbox] = {}
        self._groups: dict[str, set[str]] = {}  # group address -> member addresses
        self._tags = itertools.count(1)
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._inflight = 0
        self.published = 0

    # --- the Transport interface ------------------------------------------------------

    def subscribe(
        self, address: str, on_delivery: OnDelivery, *, durable: bool = True, groups: Sequence[str] = (),
        exclusive: bool = False,
    ) -> None:
        # One consumer per mailbox here, always: `exclusive` changes nothing.
        with self._lock:
            box = self._box(address)
            if box.consumer is not None:
                raise ValueError(f"{address} already has a consumer")
            box.consumer = on_delivery
            for group in groups:
                if not is_group(group):
                    raise ValueError(f"{group!r} is not a group address (group.<name>)")
                self._groups.setdefault(group, set()).add(address)
            self._drain(address, box)

    def unsubscribe(self, address: str) -> None:
        """Stop consuming; unsettled deliveries go back to the front of the mailbox."""
        with self._lock:
            box = self._mailboxes.get(address)
            if box is None:
                return
            box.consumer = None
            for members in self._groups.values():
                members.discard(address)
            for tag in sorted(box.unacked, reverse=True):
                d = box.unacked.pop(tag)
                box.queue.appendleft(d._replace(redelivered=True))

    def publish(self, envelope: Envelope) -> None:
        self.publish_raw(envelope.target, encode(envelope), envelope, user_id=self.user)

    def as_user(self, user: str) -> "MemoryTransport":
        """A view of this transport (same mailboxes, clock and journal taps) whose
        publishes are stamped with `user`."""
        return _UserView(self, user)  # type: ignore[return-value]

    @property
    def journaling(self) -> bool:
        return bool(self.taps)

    def record(self, envelope: Envelope) -> None:
        if self.taps:
            body = encode(envelope)
            for tap in self.taps:
                tap(envelope, body)

    def publish_raw(
        self, address: str, body: bytes, envelope: Envelope | None = None, *, user_id: str | None = None,
    ) -> None:
        """Put bytes straight into a mailbox (tests use it to inject malformed messages)."""
        user_id = self.user if user_id is None else user_id
        for tap in self.taps:
            if envelope is not None:
                tap(envelope, body)
        with self._lock:
            self.published += 1
            # A group's copies go to its members' mailboxes (none: dropped, as on a broker).
            for target in sorted(self._groups.get(address, ())) if is_group(address) else (address,):
                self._inflight += 1
                box = self._box(target)
                box.queue.append(Delivery(target, body, next(self._tags), user_id=user_id))
                self._drain(target, box)

    def ack(self, delivery: Delivery) -> None:
        self._settle(delivery)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        with self._lock:
            self.dead_letters.append(DeadLetter(delivery.address, delivery.body, reason))
        self._settle(delivery)

    def close(self) -> None:
        self.clock.close()

    def timer_pending(self) -> None:
        with self._lock:
            self._inflight += 1

    def timer_done(self) -> None:
        with self._lock:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.notify_all()

    # --- for tests ----------------------------------------------------------------------

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every published message has been handled (acked or dead-lettered),
        and every due timer of an actor (see `Transport.timer_pending`)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._inflight == 0, timeout):
                waiting = {a: len(b.queue) + len(b.unacked) for a, b in self._mailboxes.items()}
                busy = {a: n for a, n in waiting.items() if n}
                raise TimeoutError(f"transport not idle after {timeout}s: {busy}")

    def pending(self, address: str) -> int:
        with self._lock:
            box = self._mailboxes.get(address)
            return 0 if box is None else len(box.queue) + len(box.unacked)

    # --- internals ----------------------------------------------------------------------

    def _box(self, address: str) -> _Mailbox:
        box = self._mailboxes.get(address)
        if box is None:
            box = self._mailboxes[address] = _Mailbox()
        return box

    def _drain(self, address: str, box: _Mailbox) -> None:
        if address == DEAD_LETTERS:
            return
        while box.consumer is not None and box.queue:
            delivery = box.queue.popleft()
            box.unacked[delivery.tag] = delivery
            box.consumer(delivery)

    def _settle(self, delivery: Delivery) -> None:
        with self._lock:
            box = self._mailboxes.get(delivery.address)
            if box is None or box.unacked.pop(delivery.tag, None) is None:
                return  # already settled, or requeued by unsubscribe
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.notify_all()


class _UserView:
    """MemoryTransport.as_user's view: everything is the shared transport's, but for the
    principal stamped on what is published through it."""

    def __init__(self, shared: MemoryTransport, user: str) -> None:
        self._shared, self.user = shared, user
        self._replies = None  # its own reply mailbox, so that replies come back to it

    def __getattr__(self, name: str):
        return getattr(self._shared, name)

    def publish(self, envelope: Envelope) -> None:
        self._shared.publish_raw(envelope.target, encode(envelope), envelope, user_id=self.user)

    ask = Transport.ask


Transport.register(_UserView)  # a scheduler may run on a view too (it plays another principal)
