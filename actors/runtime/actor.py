"""The actor base class: a pykka actor whose mailbox is a transport address.

Handlers are installed per message type with `@on(MessageType)`; a handler gets the
message, and reads the envelope it came in (sender, ids) from `self.envelope`.

>>> from messages import PingAgent, PongAgent
>>> class Echo(Actor):
...     @on(PingAgent)
...     def ping(self, msg: PingAgent) -> None:
...         self.reply(PongAgent(agent_id=self.address))

An undecodable message, one no handler accepts, or a handler that raises is logged,
counted and dead-lettered with its reason; the actor keeps running. A message is acked
only after its handler returned.

A handler whose effects must be durable before anyone hears of them (the master's
registry writes) calls `self.hold_output_until(barrier)`: the rest of the burst's output
and acks wait, and the barrier runs once at the burst's end, for all of them (a group
commit: one wait per burst, not per write).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import traceback
from collections import Counter, deque
from concurrent.futures import Future
from contextlib import contextmanager
from time import monotonic
from typing import Any, Callable, ClassVar, Iterator, TypeVar

import pykka

from actors.runtime.bounded import MAX_LOGGED, MAX_REASON, bounded, describe
from actors.runtime.clock import TimerHandle
from actors.runtime.context import ActorContext
from actors.runtime.deaths import actor_deaths
from actors.runtime.outbox import Outbox, transient
from actors.runtime.timers import TimerDue, Timers
from actors.runtime.transport import Delivery, Transport
from messages import JOURNAL, ActorStarted, Envelope, InputsHandled, MessageError, decode

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[Any, Any], None]


def on(*message_types: type) -> Callable[[F], F]:
    """Mark a method as the handler of these message types."""

    def mark(fn: F) -> F:
        fn.__mesobus_handles__ = message_types  # type: ignore[attr-defined]
        return fn

    return mark


BATCH_SECONDS = 0.005  # the longest a handler's output waits for the rest of a burst
# ... when it is held for a barrier anyway (a confirm wait of several ms): a longer burst
# shares that wait among more handlers.
HELD_BATCH_SECONDS = 0.05
_STARTED = object()  # asked of a new actor: answered once on_start has returned
_FLUSH = object()  # told by the journal timer: write the handled-order entries now
_DRAIN = object()  # in the inbox: deliveries wait in Actor._deliveries
_RESEND = object()  # told by a timer: send what waits in the outbox
OUTBOX_RETRY_SECONDS = 1.0
_start_failures: dict[str, BaseException] = {}  # actor urn -> why its on_start failed (until start() reads it)
_start_failures_lock = threading.Lock()


class _Wake:
    """The inbox item for _DRAIN, shaped like pykka's envelope (message, reply_to).
    One immutable instance is reused: it carries nothing."""

    __slots__ = ("message", "reply_to")

    def __init__(self) -> None:
        self.message = _DRAIN
        self.reply_to = None


_WAKE = _Wake()


class Actor(Timers, pykka.ThreadingActor):
    """Base of every mesobus actor. Subclasses install handlers with `@on`."""

    handlers: dict[type, str] = {}
    # A process must be able to exit with an actor still running (its unacked message
    # comes back to the next incarnation); pykka's default would make exit wait forever.
    use_daemon_thread = True
    journal_kind: ClassVar[str] = ""  # set by actors that can be replayed from the journal
    journal_flush_every: ClassVar[int] = 256  # handled-order entries per journal record
    journal_flush_seconds: ClassVar[float] = 0.5  # ... or this long after the first of them

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for name, attr in vars(klass).items():
                for message_type in getattr(attr, "__mesobus_handles__", ()):
                    table[message_type] = name
        cls.handlers = table

    def __init__(self, address: str, transport: Transport, context: ActorContext | None = None) -> None:
        super().__init__()
        self.address = address
        self.transport = transport
        self.context = context or ActorContext(clock=transport.clock)
        self.epoch = 0  # stamped on everything sent; the master sets its leader epoch
        # Set by actors that follow a leader (agents, schedulers: the master's address):
        # its messages from an older epoch than the newest seen are ignored.
        self.leader_address: str | None = None
        self.leader_epoch = 0
        self.groups: tuple[str, ...] = ()  # group addresses whose broadcasts it also gets
        self.exclusive_mailbox = False  # consume its mailbox with an exclusive consumer
        self.envelope: Envelope | None = None  # the envelope being handled
        # The principal that published it, as the transport verified it (Delivery.user_id);
        # "" when unknown (a delivery handed over by a tool). Checked, never the envelope's sender.
        self.sender_user: str = ""
        self.counters: Counter[str] = Counter()
        self._timers: dict[str, TimerHandle] = {}
        self._handling_at: float | None = None  # time is frozen while a handler runs
        self._handled_ids: list[str] = []
        self._handled_times: list[float] = []
        self._handled_users: list[str] = []  # the verified publisher of each handled input
        self._last_error: BaseException | None = None  # what the last handler raised
        self._journal_seq = 0
        self._flush_timer: TimerHandle | None = None
        # Deliveries reach the actor's thread through this deque rather than one pykka
        # message each: the transport thread appends, and puts one _WAKE in the inbox
        # for a whole burst (_deliveries_signalled says one is on its way).
        self._deliveries: deque[Delivery] = deque()
        self._deliveries_signalled = False
        self._out = Outbox(self)  # the handlers' output, waiting out an outage if need be
        self._resend_scheduled = False
        self._in_burst = False  # handling a burst of deliveries (see _burst)
        self._barriers: dict[Callable[[], None], None] = {}  # run before the burst's output leaves
        self._broken: BaseException | None = None  # a barrier failed: this actor handles nothing more

    @staticmethod
    def _create_actor_inbox() -> queue.SimpleQueue:
        # pykka's inbox only needs put/get/empty; the C SimpleQueue does each in a
        # fraction of queue.Queue's time and wakes the actor thread with one lock release.
        return queue.SimpleQueue()

    # --- context: time, ids, randomness -------------------------------------------------

    def now(self) -> float:
        """The time; constant while one message is handled, so replay can reproduce it."""
        if self._handling_at is not None:
            return self._handling_at
        return self.context.clock.now()

    def new_id(self) -> str:
        return self.context.ids.new_id()

    @property
    def random(self):
        return self.context.random

    # --- sending ----------------------------------------------------------------------

    def make_envelope(self, target: str, body: Any, *, correlation_id: str = "") -> Envelope:
        cause = self.envelope.id if self.envelope is not None else ""
        return Envelope(
            id=self.new_id(),
            sender=self.address,
            target=target,
            body=body,
            correlation_id=correlation_id,
            causation_id=cause,
            epoch=self.epoch,
            sent_at=self.now(),
        )

    def send(self, target: str, body: Any) -> Envelope:
        """Send a message; returns its envelope."""
        envelope = self.make_envelope(target, body)
        self._publish(envelope)
        return envelope

    def reply(self, body: Any) -> Envelope:
        """Answer the message being handled (to its sender, with its id as correlation)."""
        assert self.envelope is not None, "reply() outside a handler"
        envelope = self.make_envelope(self.envelope.sender, body, correlation_id=self.envelope.id)
        self._publish(envelope)
        return envelope

    def _publish(self, envelope: Envelope) -> None:
        """Through the outbox: output the transport cannot take now (an outage) waits
        there, in order, and is sent again every OUTBOX_RETRY_SECONDS."""
        out = self._out
        out.publish(envelope)
        if out.waiting and not self._resend_scheduled:
            self._resend_scheduled = True
            self.context.clock.call_later(OUTBOX_RETRY_SECONDS, lambda: self._tell_quietly(_RESEND))

    def hold_output_until(self, barrier: Callable[[], None]) -> None:
        """Called from a handler: what this actor sends and settles (acks, dead letters)
        from now until the end of the burst waits, and leaves only once `barrier()` has
        returned; it is called once at the burst's end however often it was asked for.
        A barrier makes durable what the handlers relied on (the master's registry
        writes). If one raises, nothing held leaves: the actor stops and its death is
        reported (so its process exits), and the deliveries it did not settle go back to
        their queue, for whoever takes over. Outside a burst (replay, a tool handing a
        delivery over) the barrier runs at once, raising into the handler."""
        if not self._in_burst:
            barrier()
            return
        self._barriers[barrier] = None
        self._out.hold()

    def ask(self, target: str, body: Any, timeout: float = 10.0) -> "Future[Envelope]":
        """Send and get a Future for the reply's envelope; fails with TimeoutError."""
        return self.transport.ask(self.make_envelope(target, body), timeout)

    # --- lifecycle ----------------------------------------------------------------------

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef:
        """Start the actor and return once `on_start` has run, so its mailbox exists
        (on a broker, a message published to a queue not yet declared is unroutable)."""
        ref = super().start(*args, **kwargs)
        try:
            ref.ask(_STARTED)
        except pykka.ActorDeadError:
            # on_start failed and pykka stopped it (and logged why); the caller sees a dead ref
            with _start_failures_lock:
                why = _start_failures.pop(ref.actor_urn, None)
            actor_deaths.report(f"a {cls.__name__}", f"it failed to start: {describe(why)}" if why is not None
                                else "it failed to start (the log says why)")
        return ref

    def _actor_loop_setup(self) -> None:
        # pykka's own, which also keeps the error for start(): the death is reported with
        # its cause, so that a CLI can tell a broker's refusal (which it says itself).
        try:
            self.on_start()
        except Exception as error:  # noqa: BLE001
            with _start_failures_lock:
                _start_failures[self.actor_urn] = error
            self._handle_failure(*sys.exc_info())

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        """pykka stopped this actor: an exception escaped `on_receive` (the runtime
        catches those of messages and handlers, so this is a bug). Say so to the process."""
        actor_deaths.report(self.address, exception_value or "unknown error")

    def on_start(self) -> None:
        if self.journal_kind and self.transport.journaling:
            self.record(
                ActorStarted(
                    address=self.address,
                    kind=self.journal_kind,
                    id_prefix=self.context.ids.prefix,
                    seed=self.context.seed or 0,
                    started_at=self.now(),
                    config=self.journal_config(),
                )
            )
        if self.exclusive_mailbox:  # a leader's mailbox: no other consumer while it lives
            self.transport.subscribe(self.address, self._on_delivery, groups=self.groups, exclusive=True)
        else:
            self.transport.subscribe(self.address, self._on_delivery, groups=self.groups)

    def on_stop(self) -> None:
        self.transport.unsubscribe(self.address)
        self._flush_handled()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for item in list(self._deliveries):  # due timers never handled now: let settle() go
            if item.__class__ is TimerDue:
                self.transport.timer_done()

    def _on_delivery(self, delivery: Delivery) -> None:
        # Called on a transport thread: hand over to the actor's own thread. Only the
        # first delivery of a burst wakes it (see _drain_pending for the other side).
        if self.actor_stopped.is_set():
            raise pykka.ActorDeadError(f"{self} is stopped")
        self._enqueue(delivery)

    def _enqueue(self, item: "Delivery | TimerDue") -> None:
        self._deliveries.append(item)
        if not self._deliveries_signalled:
            self._deliveries_signalled = True
            self.actor_inbox.put(_WAKE)

    def on_receive(self, message: Any) -> Any:
        if self._broken is not None:
            return None  # stopping: its unsettled deliveries go back to the queue
        if message is _DRAIN:
            self._drain_pending()
        elif message is _RESEND:
            self._resend_scheduled = False
            with self.transport.batch():
                sent = self._out.flush()
            if not sent:
                self._resend_scheduled = True
                self.context.clock.call_later(OUTBOX_RETRY_SECONDS, lambda: self._tell_quietly(_RESEND))
        elif message is _FLUSH:
            self._flush_timer = None
            self._flush_handled()
        elif isinstance(message, Delivery):  # handed over by other means (tests, tools)
            with self._burst():
                self.receive(message)
            self._maybe_flush_handled()
        return None

    @contextmanager
    def _burst(self) -> Iterator[None]:
        """Handling a burst: what its handlers send leaves together (`transport.batch()`),
        after the barriers they asked for (`hold_output_until`)."""
        with self.transport.batch():
            self._in_burst = True
            try:
                yield
            finally:
                self._in_burst = False
            if self._barriers:
                self._release()

    def _release(self) -> None:
        barriers = list(self._barriers)
        self._barriers.clear()
        try:
            for barrier in barriers:
                barrier()
        except Exception as err:  # noqa: BLE001  whatever it was, the held output must not leave
            self._barrier_failed(err)
            return
        if not self._out.release() and not self._resend_scheduled:  # an outage meanwhile: the rest waits
            self._resend_scheduled = True
            self.context.clock.call_later(OUTBOX_RETRY_SECONDS, lambda: self._tell_quietly(_RESEND))

    def _barrier_failed(self, err: BaseException) -> None:
        """What the burst's output relied on is not durable: let none of it out, stop."""
        self._broken = err
        self.counters["barrier_failures"] += 1
        dropped = self._out.drop()
        log.error("%s: stopping: %s; none of its last %d outputs and acks was let out (the messages it did "
                  "not acknowledge go back to its queue)", self.address, describe(err, MAX_LOGGED), dropped)
        actor_deaths.report(self.address, err)
        self.stop()  # after what waits in the inbox, which it no longer handles

    def _drain_pending(self) -> None:
        """Handle the deliveries waiting now, in order. Later ones wait for the next turn
        of the inbox, so that pykka messages (stop, proxy calls) are not starved."""
        pending = self._deliveries
        left = len(pending)
        while left:
            # What the handlers send leaves together when the batch ends: after the
            # burst, or every BATCH_SECONDS while a long one is handled (HELD_BATCH_SECONDS
            # once its output waits for a barrier).
            with self._burst():
                started = monotonic()
                until, held_until = started + BATCH_SECONDS, started + HELD_BATCH_SECONDS
                while left:
                    left -= 1
                    item = pending.popleft()
                    if item.__class__ is TimerDue:
                        self._handle_timer(item.envelope)
                    else:
                        self.receive(item)
                    if len(self._handled_ids) >= self.journal_flush_every:
                        self._flush_handled()
                    if monotonic() >= until and (not self._barriers or monotonic() >= held_until):
                        break
            if self._broken is not None:
                return  # stopping: what is left is not handled (nor settled)
        if pending:
            self.actor_inbox.put(_WAKE)  # still signalled: come back for the rest
        else:
            self._deliveries_signalled = False
            # A delivery appended just before the reset saw the flag still up and put no
            # wake-up: look again now that it is down, so that no delivery is stranded.
            if pending:
                self._deliveries_signalled = True
                self.actor_inbox.put(_WAKE)
        self._maybe_flush_handled()

    def _maybe_flush_handled(self) -> None:
        """Handled-order entries go to the journal in batches: when enough have gathered,
        or `journal_flush_seconds` after the first of a batch (a timer, so that an actor
        gone quiet still writes its tail), never one record per message."""
        if not self._handled_ids:
            return
        if len(self._handled_ids) >= self.journal_flush_every:
            self._flush_handled()
        elif self._flush_timer is None:
            self._flush_timer = self.context.clock.call_later(
                self.journal_flush_seconds, lambda: self._tell_quietly(_FLUSH)
            )

    def _tell_quietly(self, message: Any) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            pass  # stopped meanwhile: on_stop flushed

    # --- journal ------------------------------------------------------------------------

    def journal_config(self) -> dict[str, Any]:
        """Plain data from which `from_journal` can rebuild this actor for replay."""
        return {}

    def record(self, body: Any) -> None:
        """Write a journal record about this actor. Its id comes from a counter of its
        own, so journaling never shifts the ids that handlers see. Without a journal,
        nothing is built."""
        if not self.transport.journaling:
            return
        self._journal_seq += 1
        self.transport.record(
            Envelope(
                id=f"{self.context.ids.prefix}.j{self._journal_seq}",
                sender=self.address,
                target=JOURNAL,
                body=body,
                causation_id=self.envelope.id if self.envelope is not None else "",
                sent_at=self.now(),
            )
        )

    def _flush_handled(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._handled_ids:
            return
        ids, times = tuple(self._handled_ids), tuple(self._handled_times)
        users = tuple(self._handled_users)
        self._handled_ids.clear()
        self._handled_times.clear()
        self._handled_users.clear()
        self.record(InputsHandled(self.address, ids, times, users))

    # --- dispatch -----------------------------------------------------------------------

    def receive(self, delivery: Delivery) -> None:
        """Decode, dispatch and settle one delivery; never raises. Whatever goes wrong
        while decoding (any exception, not only MessageError: bytes are hostile) or in
        the handler dead-letters the message with the reason; the actor goes on. (If the
        handler failed because its output could not be sent in an outage, dead-lettering
        meets the same outage: the broker transport then leaves the message unsettled and
        it comes back after the reconnect.)"""
        try:
            envelope = decode(delivery.body)
        except MessageError as err:  # what decoding says about bad data: its own words
            self._reject(delivery, f"undecodable: {bounded(str(err), MAX_REASON)}", "undecodable")
            return
        except Exception as err:  # noqa: BLE001  anything else: no input may stop an actor
            self._reject(delivery, f"undecodable: {describe(err)}", "undecodable")
            return
        self._last_error = None
        reason = self.dispatch(envelope, delivery.user_id)
        if reason is None:
            self._out.ack(delivery)
        else:
            self._reject(delivery, reason, "failed" if self._last_error is not None else "unhandled")

    def dispatch(self, envelope: Envelope, user_id: str = "") -> str | None:
        """Run the handler for one envelope published by `user_id` (the verified
        principal); returns None, or why it could not be handled (the exception, if the
        handler raised one, is kept in `_last_error`)."""
        self.counters["received"] += 1
        if envelope.sender == self.leader_address and envelope.epoch != self.leader_epoch:
            if envelope.epoch < self.leader_epoch:  # a deposed leader, still talking: not ours
                self.counters["stale_leader"] += 1
                log.info("%s: ignoring %s from %s: epoch %d, the leader's is %d", self.address,
                         envelope.type, envelope.sender, envelope.epoch, self.leader_epoch)
                return None
            self.leader_epoch = envelope.epoch
        name = self.handlers.get(type(envelope.body))
        if name is None:
            return f"no handler for {envelope.type} at {self.address}"
        self.envelope = envelope
        self.sender_user = user_id
        self._handling_at = at = self.context.clock.now()
        if self.journal_kind and self.transport.journaling:  # journal off: nothing gathered
            self._handled_ids.append(envelope.id)
            self._handled_times.append(at)
            self._handled_users.append(user_id)
        try:
            getattr(self, name)(envelope.body)
        except Exception as err:  # noqa: BLE001  a handler's bug must not stop the actor
            self._last_error = err
            if transient(err):  # an outage, not a bug: one line (what happens next is logged by the caller)
                log.warning("%s: handler %s could not send while handling %s (%s): %s", self.address, name,
                            bounded(envelope.id), envelope.type, describe(err, MAX_LOGGED))
            else:
                log.error("%s: handler %s failed on %s (%s) from %s: %s\n%s", self.address, name,
                          bounded(envelope.id), envelope.type, bounded(envelope.sender), describe(err),
                          _short_trace(err))
            return f"handler {name} failed on {envelope.type}: {describe(err)}"
        finally:
            self.envelope = None
            self.sender_user = ""
            self._handling_at = None
        self.counters["handled"] += 1
        return None

    def _reject(self, delivery: Delivery, reason: str, counter: str) -> None:
        reason = bounded(reason, MAX_REASON)
        log.warning("%s: dead-lettering a message: %s", self.address, bounded(reason))
        self.counters[counter] += 1
        self.counters["dead_lettered"] += 1
        self._out.dead_letter(delivery, reason)


def _short_trace(err: BaseException, frames: int = 20) -> str:
    """The last frames of a handler's traceback, for the log: code locations only (the
    exception's message, which may quote hostile input, is logged bounded beside it)."""
    return "".join(traceback.format_tb(err.__traceback__, limit=-frames)).rstrip()
