"""Connecting a scheduler: `MyScheduler.run(target, ...)` and the handle it returns.

The target is a broker URL (`amqp://...`; the scheduler gets its own connection, closed
when it stops), an embedded `LocalCluster`, or any `Transport` (tests use a
`MemoryTransport` on a virtual clock).
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

import pykka

from actors.runtime import ActorContext, Transport, TransportError
from actors.scheduler.config import MASTER, DriverConfig, set_pending
from actors.scheduler.idfile import IdFile
from messages import FrameworkInfo
from messages.ids import address_id_problem, principal_id

if TYPE_CHECKING:
    from actors.scheduler.base import Scheduler


class SchedulerHandle:
    """A running scheduler. `join()` waits until it called `stop()`; `stop()` stops it.

    >>> handle = MyScheduler.run(cluster, name="batch")   # doctest: +SKIP
    >>> handle.join(timeout=60)                           # doctest: +SKIP
    True
    """

    def __init__(self, ref: pykka.ActorRef, scheduler: "Scheduler", transport: Transport, owns_transport: bool) -> None:
        self.ref = ref
        self.scheduler = scheduler  # read its fields once join() returned, or at your own risk
        self._transport = transport
        self._owns_transport = owns_transport
        self._released = False
        self._lock = threading.Lock()

    @property
    def framework_id(self) -> str:
        return self.scheduler.framework_id

    @property
    def error(self) -> str | None:
        """The master's reason when it refused or removed the framework."""
        return self.scheduler.error_message

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the scheduler stopped; True if it did within `timeout` seconds."""
        if not self.scheduler._stopped_event.wait(timeout):
            return False
        self._release()
        return True

    def stop(self, failover: bool = False, timeout: float = 10.0) -> None:
        """Stop it as `Scheduler.stop(failover)` would, and wait until it has."""
        try:
            from actors.scheduler.base import _Call

            self.ref.ask(_Call(lambda s: s.stop(failover)), timeout=timeout)
        except pykka.ActorDeadError:
            pass  # it stopped by itself
        self.join(timeout)

    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        if self._owns_transport:
            try:
                self._transport.flush()  # the UnregisterFramework must reach the broker
            finally:
                self._transport.close()

    def __enter__(self) -> "SchedulerHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def resolve_target(target: Any) -> tuple[Transport, bool, str | None]:
    """(transport, whether the scheduler owns it, the master's address if the target
    knows it) for a URL, a LocalCluster or a Transport."""
    if isinstance(target, Transport):
        return target, False, None
    cluster_transport = getattr(target, "transport", None)
    if isinstance(cluster_transport, Transport):  # a LocalCluster (duck-typed: no import cycle)
        return cluster_transport, False, getattr(target, "master_address", None)
    if hasattr(target, "start") and hasattr(target, "agents"):
        raise ValueError("the LocalCluster is not running: start() it, or use it in a `with`")
    if isinstance(target, str):
        if target.startswith("memory://"):
            raise ValueError("memory:// reaches nothing from here: pass the LocalCluster itself")
        from actors.connect import connect_transport

        return connect_transport(target), True, None
    raise TypeError(f"run() needs a broker URL, a LocalCluster or a Transport, not {type(target).__name__}")


def start_scheduler(
    cls: type["Scheduler"],
    target: Any,
    *,
    name: str | None,
    roles: tuple[str, ...],
    user: str | None,
    failover_timeout: float,
    capabilities: tuple[str, ...],
    principal: str,
    checkpoint: bool,
    hostname: str | None,
    framework_id: str | None,
    id_file: str | os.PathLike[str] | None,
    implicit_acknowledgements: bool,
    heartbeat_interval: float,
    context: ActorContext | None,
    master: str | None,
    init_kwargs: dict[str, Any],
    master_principal: str = "",
) -> SchedulerHandle:
    if not roles:
        raise ValueError("a framework needs at least one role")
    if failover_timeout < 0:
        raise ValueError(f"failover_timeout must be >= 0, got {failover_timeout}")
    if not heartbeat_interval > 0:
        raise ValueError(f"heartbeat_interval must be > 0, got {heartbeat_interval}")
    if framework_id is not None:
        _check_id(framework_id)
    transport, owned, cluster_master = resolve_target(target)
    try:
        context = context or ActorContext(clock=transport.clock)
        store = IdFile(id_file) if id_file is not None else None
        known = framework_id or (store.load() if store else None)
        if known and not framework_id:
            try:
                _check_id(known)
            except ValueError as err:
                raise ValueError(f"{store.path}: {err}") from None
        info = FrameworkInfo(
            user=user or _current_user(),
            name=name or cls.__name__,
            # A new id starts with the principal: broker permissions can then name its queues.
            framework_id=known or principal_id(transport.user, context.ids.new_id()),
            roles=tuple(roles),
            # The framework's principal is its connection's user (the master checks it);
            # declaring it lets a new master bind the id before the scheduler re-registers.
            principal=principal or transport.user,
            failover_timeout=float(failover_timeout),
            checkpoint=checkpoint,
            capabilities=tuple(capabilities),
            hostname=hostname or socket.gethostname(),
        )
        config = DriverConfig(
            transport=transport,
            context=context,
            framework=info,
            failover=known is not None,
            id_file=store,
            implicit_acknowledgements=implicit_acknowledgements,
            heartbeat_interval=heartbeat_interval,
            master=master or cluster_master or MASTER,
            # Tools built on the API (`mesobus run`) learn it from the environment.
            master_principal=master_principal or os.environ.get("MESOBUS_MASTER_PRINCIPAL", ""),
        )
        set_pending(config)
        try:
            ref = cls.start(**init_kwargs)
        finally:
            set_pending(None)
        scheduler = config.scheduler
        scheduler._started_event.wait(10.0)  # subscribed, first registration request sent
        if scheduler._start_error is not None:
            scheduler._stopped_event.wait(10.0)
            error = scheduler._start_error
            # A broker that refuses or is gone stays a TransportError, so that a CLI says it in one line.
            kind = TransportError if isinstance(error, TransportError) else RuntimeError
            raise kind(f"the scheduler could not start: {error}") from error
    except BaseException:
        if owned:
            transport.close()
        raise
    return SchedulerHandle(ref, config.scheduler, transport, owned)


def _check_id(framework_id: str) -> None:
    """A framework id names a mailbox and sandbox directories (messages/ids.py)."""
    problem = address_id_problem("framework_id", framework_id)
    if problem:
        raise ValueError(problem)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "nobody"
