"""Leadership among masters that share a broker: one leads, the others stand by.

The lock is an exclusive queue, `mesobus.leader`: the broker lets one connection at a
time declare it and deletes it when that connection closes, whatever the reason (the
process killed, the host gone, heartbeats missed). A standby master tries to declare it
every `retry` seconds; the first to succeed leads. The holding connection is its own
(not the transport's), kept alive by a thread that serves its heartbeats; if it closes,
`lost` is set and the leader must step down at once, since another master may already
lead: `mesobus master` then exits, and its supervisor restarts it as a standby, as a
Mesos master ends itself when it loses its ZooKeeper session.

    lock = LeaderLock(parse_url(url), holder="master on host-a (pid 12)")
    if lock.acquire(stop=stopping, on_standby=print):   # blocks while another leads
        ... lead until lock.lost is set or we stop ...
    lock.close()
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import pika
import pika.exceptions

from rabbitmq.config import BrokerConfig
from rabbitmq.connection import connection_parameters, describe

log = logging.getLogger(__name__)

LOCK_QUEUE = "mesobus.leader"
HOLDER_ARGUMENT = "x-mesobus-holder"  # who holds it, for `rabbitmqctl list_queues arguments`
_RESOURCE_LOCKED = 405


class LeaderLock:
    """One master's claim to lead (see the module docstring)."""

    def __init__(self, config: BrokerConfig, holder: str, *, retry: float = 1.0, queue: str = LOCK_QUEUE) -> None:
        self.config = config
        self.holder = holder
        self.retry = retry
        self.queue = queue
        self.lost = threading.Event()  # set when the held lock is gone
        self.epoch = 0  # once acquired: the leader epoch (see acquire)
        self._connection: Any = None
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None

    def acquire(self, stop: threading.Event, on_standby: Callable[[str], None] = lambda why: None) -> bool:
        """Block until this process leads (True; `epoch` is then set) or `stop` is set
        (False). `on_standby(why)` is called when it has to wait, and again whenever the
        reason changes."""
        said = ""
        while not stop.is_set():
            why = self._try_once()
            if why is None:
                # Milliseconds since 1970 when the lock was taken: later than any earlier
                # leader's on hosts whose clocks agree within the failover time. Followers
                # that forget the epoch on a timeout recover from a clock that did not.
                self.epoch = int(time.time() * 1000)
                self._watcher = threading.Thread(target=self._serve, name="mesobus-leader", daemon=True)
                self._watcher.start()
                return True
            if why != said:
                on_standby(why)
                said = why
            stop.wait(self.retry)
        return False

    def close(self) -> None:
        """Give the lock up (another master may lead at once)."""
        self._closing.set()
        if self._watcher is not None:
            self._watcher.join(5)
        elif self._connection is not None:
            self._close_connection()

    # --- internals ----------------------------------------------------------------------

    def _try_once(self) -> str | None:
        """Declare the lock queue; None when held, else why not."""
        try:
            if self._connection is None or not self._connection.is_open:
                params = connection_parameters(self.config)
                params.client_properties = {"connection_name": f"mesobus leader lock: {self.holder}"}
                self._connection = pika.BlockingConnection(params)
            channel = self._connection.channel()
            channel.queue_declare(self.queue, exclusive=True, arguments={HOLDER_ARGUMENT: self.holder})
            return None
        except pika.exceptions.ChannelClosedByBroker as err:
            if err.reply_code == _RESOURCE_LOCKED:
                return "another master leads"
            return f"cannot take the leader lock: {describe(err)}"
        except pika.exceptions.AMQPError as err:
            self._connection = None
            return f"no broker: {describe(err)}"
        except OSError as err:
            self._connection = None
            return f"no broker: {err}"

    def _serve(self) -> None:
        """Keep the holding connection alive (heartbeats) until close() or its loss."""
        try:
            while not self._closing.is_set():
                self._connection.process_data_events(time_limit=0.2)
        except Exception as err:  # the connection is gone, and the lock with it
            log.error("mesobus: lost the leader lock (%s)", describe(err))
            self.lost.set()
            return
        self._close_connection()

    def _close_connection(self) -> None:
        try:
            self._connection.close()
        except Exception:  # already gone: the broker drops the lock either way
            pass
