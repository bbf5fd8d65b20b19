"""Leadership among masters that share a broker: one leads, the others stand by.

The lock is an exclusive queue, `mesobus.leader`: the broker lets one connection at a
time declare it and deletes it when that connection closes, whatever the reason (the
process killed or frozen, the host gone, heartbeats missed).

The lock is held by the leader's own transport connection, the one its mailboxes are
consumed on (`LeaderFence`, given to `AmqpTransport(fence=...)`): on each connection the
transport opens it first declares the lock, and starts consuming only once that
succeeded. So the leader's consumers and its lock live and die together, by the broker's
own doing: a deposed leader (frozen past its heartbeats, cut off) has lost its consumers
with its lock, and when its transport reconnects by itself it never consumes again (a
fence that held once and lost its connection stays lost: the process must step down,
as a Mesos master that loses its ZooKeeper session ends itself). The master and
allocator also consume with exclusive consumers, so no stray process shares their
mailboxes.

A standby opens the same kind of transport (nothing subscribed) and retries the
declaration every `retry` seconds on its connection until it leads.

    lock = LeaderLock(parse_url(url), holder="master on host-a (pid 12)")
    if lock.acquire(stop, on_standby=print):   # blocks while another leads
        ... start the actors on lock.transport; lead until lock.lost is set ...
    lock.close()
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from rabbitmq.config import BrokerConfig
from rabbitmq.connection import describe, guarded

log = logging.getLogger(__name__)

LOCK_QUEUE = "mesobus.leader"
HOLDER_ARGUMENT = "x-mesobus-holder"  # who holds it, for `rabbitmqctl list_queues arguments`
_RESOURCE_LOCKED = 405
ANOTHER_LEADS = "another master leads"


class LeaderFence:
    """The leader lock as part of a transport's connection (the I/O thread calls
    `take` after each connection opened and `connection_lost` after each loss)."""

    def __init__(self, holder: str, *, retry: float = 1.0, queue: str = LOCK_QUEUE) -> None:
        self.holder = holder
        self.retry = retry
        self.queue = queue
        self.held = threading.Event()  # this process leads (or led: see lost)
        self.lost = threading.Event()  # it held the lock and its connection closed: never again
        self.why = ""  # why it does not hold the lock yet ("" when unknown or held)
        self.releasing = False  # set by LeaderLock.close: the loss that follows is no error

    def take(self, io: Any, connection: Any, then: Callable[[], None]) -> None:
        """Declare the lock on `connection`; once held, `then()` (start consuming).
        Retried every `retry` seconds while another connection holds it."""
        if self.lost.is_set() or not connection.is_open:
            return  # deposed: consuming never starts again on any connection

        def opened(channel: Any) -> None:
            channel.add_on_close_callback(guarded(closed))
            channel.queue_declare(
                self.queue, exclusive=True, arguments={HOLDER_ARGUMENT: self.holder}, callback=guarded(declared),
            )

        def declared(_frame: Any) -> None:
            self.why = ""
            self.held.set()
            log.info("mesobus: holding the leader lock %s", self.queue)
            then()

        def closed(_channel: Any, reason: Any) -> None:
            if self.held.is_set():
                return  # the lock belongs to the connection, not to this channel
            code = getattr(reason, "reply_code", 0)
            self.why = ANOTHER_LEADS if code == _RESOURCE_LOCKED else f"cannot take the leader lock: {describe(reason)}"
            if connection.is_open:
                io.call_later(self.retry, lambda: self.take(io, connection, then))

        connection.channel(on_open_callback=guarded(opened))

    def connection_lost(self, reason: str) -> None:
        if self.held.is_set() and not self.lost.is_set():
            if self.releasing:
                log.info("mesobus: gave up the leader lock")
            else:
                log.error("mesobus: lost the leader lock (%s)", reason)
            self.lost.set()


class LeaderLock:
    """One master's claim to lead, and the transport it leads with (see the module docstring)."""

    def __init__(self, config: BrokerConfig, holder: str, *, retry: float = 0.25, queue: str = LOCK_QUEUE) -> None:
        self.config = config
        self.holder = holder
        self.retry = retry
        self.fence = LeaderFence(holder, retry=retry, queue=queue)
        self.lost = self.fence.lost  # set when the held lock is gone
        self.epoch = 0  # the leader epoch, once the caller has been elected in the registry
        self.transport: Any = None  # the AmqpTransport holding the lock (from acquire on)

    def acquire(self, stop: threading.Event, on_standby: Callable[[str], None] = lambda why: None) -> bool:
        """Block until this process leads (True: its actors go on `self.transport`) or
        `stop` is set (False). `on_standby(why)` is called when it has to wait, and again
        whenever the kind of reason changes (no broker / another master leads). Raises
        AccessRefused (or CertificateRejected) if the broker refuses this user."""
        from rabbitmq.transport import AmqpTransport

        if self.transport is None:
            self.transport = AmqpTransport(self.config, fence=self.fence, name="mesobus-master")
        said = ""
        while not stop.is_set():
            if self.fence.held.wait(min(self.retry, 0.2)):
                return not self.lost.is_set()
            refused = self.transport.refused
            if refused is not None:  # a wrong password is no outage: standing by would never end
                raise type(refused)(str(refused))
            why = self._reason()
            if why and why.split(":")[0] != said.split(":")[0]:
                on_standby(why)
                said = why
        return False

    def close(self) -> None:
        """Give the lock up (another master may lead at once)."""
        self.fence.releasing = True
        if self.transport is not None:
            self.transport.close(timeout=5)

    def _reason(self) -> str:
        if self.transport.connected:
            return self.fence.why
        error = self.transport.last_error
        return "" if error == "not connected yet" else f"no broker: {error}"
