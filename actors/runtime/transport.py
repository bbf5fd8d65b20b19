"""The transport interface: how actors' mailboxes are reached.

Two implementations: `MemoryTransport` (this package; every actor in one process) and
`rabbitmq.AmqpTransport` (a durable RabbitMQ queue per address). Actors never know which
one they run on.

Contract:
- `subscribe(address, on_delivery)` starts consuming the mailbox of `address`;
  `on_delivery(delivery)` is called on a transport thread, in mailbox order, and must not
  block for long (actors hand the delivery to their own thread).
- every delivery is settled exactly once, after its handler returned: `ack(delivery)`, or
  `dead_letter(delivery, reason)` which moves the raw bytes to the dead letters with the
  reason. Unsettled deliveries come back after a crash or a lost connection (at-least-once).
- a group address (`group_address(name)`, "group.<name>") is a broadcast: a message
  published to it is copied to every mailbox subscribed with that group, and dropped
  when there is none (it is still journaled).
- every delivery carries `user_id`, the publisher's principal as verified by the transport
  (see `Delivery`); `publish` stamps `self.user`.
- `publish(envelope)` sends one message to `envelope.target`. It may buffer, but never
  drops: a message published while handling a delivery is confirmed before that
  delivery's ack. During an outage it waits (bounded) and then raises `TransportError`.
- `record(envelope)` writes a journal-only record (see messages/journal.py); it must not
  fail when no journal is configured.
- `ask(envelope, timeout)` publishes with a reply address and returns a Future resolved
  with the reply's envelope (see `ReplyRouter`).
- `batch()` (optional): publishes from one thread inside `with transport.batch():` may
  be sent together when it ends; a batch must not wait for its own messages (`ask` and
  `flush` send what the thread's batch holds first).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, NamedTuple, Sequence

from actors.runtime.bounded import describe
from actors.runtime.clock import Clock, TimerHandle
from messages import Envelope, decode
from messages.addresses import DEAD_LETTERS, GROUP_PREFIX, group_address, is_group, reply_address  # noqa: F401


class TransportError(RuntimeError):
    """The transport could not do what was asked (broker unreachable past the deadline)."""


class AccessRefused(TransportError):
    """The broker refused this principal (wrong password, no access to the vhost, no
    permission for a queue or exchange): not an outage, so never retried. The message
    names the user and the vhost."""


class Delivery(NamedTuple):
    """One message taken from a mailbox, not yet settled. Immutable; a NamedTuple (like
    Envelope) because one is built for every message received."""

    address: str
    body: bytes
    tag: Any  # the transport's own handle for ack / dead_letter
    redelivered: bool = False
    # The publisher's principal as the transport verified it (AMQP: the `user_id` property,
    # which RabbitMQ checks against the publishing connection's user). Never the envelope's
    # self-declared sender: every decision that trusts a sender checks this.
    user_id: str = ""


@dataclass(frozen=True)
class DeadLetter:
    address: str
    body: bytes
    reason: str


OnDelivery = Callable[[Delivery], None]


class Transport(ABC):
    clock: Clock
    user: str = ""  # the principal this transport publishes as (stamped on every message)

    @abstractmethod
    def subscribe(
        self, address: str, on_delivery: OnDelivery, *, durable: bool = True, groups: Sequence[str] = (),
        exclusive: bool = False,
    ) -> None:
        """Consume `address`'s mailbox. `durable=False` for short-lived reply mailboxes.
        The mailbox also gets a copy of what is published to each group address in
        `groups` (see `group_address`). `exclusive`: no other consumer may take from the
        mailbox while this one lives (a second subscribe is refused)."""

    @abstractmethod
    def unsubscribe(self, address: str) -> None: ...

    @abstractmethod
    def publish(self, envelope: Envelope) -> None: ...

    @abstractmethod
    def ack(self, delivery: Delivery) -> None: ...

    @abstractmethod
    def dead_letter(self, delivery: Delivery, reason: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything published so far is safely with the mailbox."""

    def record(self, envelope: Envelope) -> None:
        """Write a journal record (target `journal`): kept by the journal, never
        delivered to a mailbox. Transports without a journal drop it."""

    @property
    def journaling(self) -> bool:
        """Whether `record` keeps anything now. When it does not, actors build no journal
        records at all (`--no-journal` means no journal work)."""
        return False

    def timer_pending(self) -> None:
        """An actor's timer is due and waits in its actor (it never goes through the
        transport). The in-memory transport counts it as in flight, so that `settle()`
        also waits for timers; others ignore it. Paired with one `timer_done()`."""

    def timer_done(self) -> None:
        """The timer announced by `timer_pending()` was handled (or dropped)."""

    @property
    def connected(self) -> bool:
        """Whether the transport holds a connection now (an in-process one always does)."""
        return True

    @property
    def refused(self) -> "TransportError | None":
        """The broker's refusal of this transport's user, once it refused it (never, in process)."""
        return None

    def batch(self) -> ContextManager[None]:
        """`with transport.batch():` publishes from this thread may be held back and sent
        together when the block ends (the actor runtime wraps each burst of deliveries in
        one, so that a broker transport sends their output at once). Default: no effect."""
        return nullcontext()

    # --- ask / reply: a per-transport reply mailbox resolving futures by correlation id -

    _replies: "ReplyRouter | None" = None

    def ask(self, envelope: Envelope, timeout: float | None = None) -> "Future[Envelope]":
        """Publish `envelope` (its sender is replaced by the reply address) and return a
        Future for the reply. The Future fails with TimeoutError after `timeout`."""
        if self._replies is None:
            self._replies = ReplyRouter(self)
        return self._replies.ask(envelope, timeout)


class ReplyRouter:
    """Routes replies (by correlation id) arriving at one reply mailbox to their futures."""

    def __init__(self, transport: Transport) -> None:
        import os

        self.transport = transport
        self.address = reply_address(os.urandom(6).hex())
        self._pending: dict[str, tuple[Future, TimerHandle | None]] = {}
        self._lock = threading.Lock()
        transport.subscribe(self.address, self._on_delivery, durable=False)

    def ask(self, envelope: Envelope, timeout: float | None) -> "Future[Envelope]":
        future: Future = Future()
        timer = None
        if timeout is not None:
            # Cancelled when the reply comes: the clock's thread then does not wake up
            # for it (one wake-up per ask, `timeout` later, under a steady stream of asks).
            timer = self.transport.clock.call_later(timeout, lambda: self._expire(envelope, timeout))
        with self._lock:
            self._pending[envelope.id] = (future, timer)
        self.transport.publish(envelope._replace(sender=self.address))
        return future

    def _expire(self, envelope: Envelope, timeout: float) -> None:
        with self._lock:
            future, _ = self._pending.pop(envelope.id, (None, None))
        if future is not None and not future.done():
            future.set_exception(
                TimeoutError(f"no reply to {envelope.type} from {envelope.target} in {timeout}s")
            )

    def _on_delivery(self, delivery: Delivery) -> None:
        try:
            envelope = decode(delivery.body)
        except Exception as err:  # noqa: BLE001  a hostile reply must not break the router
            self.transport.dead_letter(delivery, f"undecodable reply: {describe(err)}")
            return
        with self._lock:
            future, timer = self._pending.pop(envelope.correlation_id, (None, None))
        if timer is not None:
            timer.cancel()
        self.transport.ack(delivery)
        if future is not None and not future.done():
            future.set_result(envelope)
