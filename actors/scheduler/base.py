"""The Scheduler base class: what a framework author subclasses.

>>> from actors import Scheduler
>>> class Hello(Scheduler):
...     def resource_offers(self, offers):
...         for offer in offers:
...             self.launch(offer, [self.task(offer, "echo hello", cpus=0.1, mem=32)])
...     def status_update(self, status):
...         if status.state.is_terminal:
...             self.stop()

`Hello.run("amqp://...")` (or `Hello.run(LocalCluster())`) registers it and returns a
handle; `handle.join()` waits until it calls `stop()`. Every callback is a no-op by
default; override the ones you need. Callbacks run one at a time on the scheduler's own
thread; actions may be called from callbacks or from any other thread.

The driver part (registering with backoff, heartbeats, re-registering after the master
was lost, acknowledging status updates, keeping the framework id for failover) lives in
`Session` and `run`; see docs/framework-api.md.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Iterable, Sequence

import pykka

from actors.runtime import Actor, ActorContext, on
from actors.scheduler.config import HEARTBEAT_INTERVAL, DriverConfig, take_pending
from actors.scheduler.run import SchedulerHandle, start_scheduler
from actors.scheduler.session import Session, State
from actors.scheduler.tasks import Command, build_task
from actors.security import SenderChecks, own_principal
from actors.security.senders import from_leader_or_self
from messages import (
    Accept,
    Decline,
    DeactivateFramework,
    Envelope,
    ExecutorToFramework,
    ExitedExecutor,
    Filters,
    FrameworkError,
    FrameworkInfo,
    FrameworkToExecutor,
    KillTask,
    LostAgent,
    MasterInfo,
    Offer,
    Operation,
    OperationType,
    ReconcileTasks,
    RescindResourceOffer,
    ResourceOffers,
    Revive,
    StatusSource,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    Suppress,
    TaskInfo,
    TaskRef,
    TaskState,
    TaskStatus,
    UnregisterFramework,
)
from messages.addresses import framework_address, frameworks_group

log = logging.getLogger(__name__)

OfferLike = Offer | str
TaskLike = TaskRef | TaskStatus | tuple[str, str] | str
_REMEMBERED_ACKS = 10_000  # uuids acknowledged lately: a redelivered update is re-acked only


class Scheduler(SenderChecks, Session, Actor):
    """A framework's scheduler. Override the callbacks; call the actions."""

    def __init__(self) -> None:
        config: DriverConfig = take_pending()
        super().__init__(framework_address(config.framework.framework_id), config.transport, config.context)
        self._driver = config
        self.leader_address = config.master  # messages of a deposed master are ignored
        self.master_principal = config.master_principal or own_principal(config.transport)
        self.groups = (frameworks_group(config.master),)  # a new master's call to re-register
        config.scheduler = self
        self._started_event = threading.Event()  # set once subscribed and registering (run waits)
        self._stopped_event = threading.Event()  # set once stopped and unsubscribed (handle.join)
        self.error_message: str | None = None  # set when the master refused the framework
        self._acked_uuids: OrderedDict[str, None] = OrderedDict()
        self._start_error: Exception | None = None

    def sender_problem(self, envelope: Envelope, user: str) -> str | None:
        """Only the master's principal speaks as the master; the rest is this process'."""
        return from_leader_or_self(self, envelope, user, master_principal=self.master_principal)

    @property
    def framework_info(self) -> FrameworkInfo:
        return self._driver.framework

    @classmethod
    def run(
        cls,
        target: Any,
        *,
        name: str | None = None,
        roles: Iterable[str] = ("*",),
        user: str | None = None,
        failover_timeout: float = 0.0,
        capabilities: Iterable[str] = (),
        principal: str = "",
        checkpoint: bool = False,
        hostname: str | None = None,
        framework_id: str | None = None,
        id_file: str | os.PathLike[str] | None = None,
        implicit_acknowledgements: bool = True,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        context: ActorContext | None = None,
        master: str | None = None,
        master_principal: str = "",
        **init_kwargs: Any,
    ) -> SchedulerHandle:
        """Start this scheduler against `target` (a broker URL, a LocalCluster or a
        Transport) and register it; `init_kwargs` go to the class' own `__init__`.

        With `id_file=` (or `framework_id=`) a restarted process re-registers with the
        same framework id (failover): its tasks are kept if it comes back within
        `failover_timeout` seconds. `master` is the master's address (default "master",
        or the LocalCluster's); `master_principal` the broker user it publishes as
        (default: this scheduler's own), the only one believed to speak as the master."""
        return start_scheduler(
            cls,
            target,
            name=name,
            roles=tuple(roles),
            user=user,
            failover_timeout=failover_timeout,
            capabilities=tuple(capabilities),
            principal=principal,
            checkpoint=checkpoint,
            hostname=hostname,
            framework_id=framework_id,
            id_file=id_file,
            implicit_acknowledgements=implicit_acknowledgements,
            heartbeat_interval=heartbeat_interval,
            context=context,
            master=master,
            init_kwargs=init_kwargs,
            master_principal=master_principal,
        )

    # --- callbacks: override these --------------------------------------------------------

    def registered(self, framework_id: str, master_info: MasterInfo) -> None:
        """The master accepted the framework (first time in this process, failover included)."""

    def reregistered(self, master_info: MasterInfo) -> None:
        """Connected again after `disconnected()`; the framework's tasks were kept."""

    def disconnected(self) -> None:
        """The master is unreachable; the driver keeps re-registering."""

    def resource_offers(self, offers: list[Offer]) -> None:
        """Resources to use: `launch`, `accept` or `decline` each offer."""

    def offer_rescinded(self, offer_id: str) -> None:
        """An offer is no longer valid; using it now gives TASK_LOST."""

    def status_update(self, status: TaskStatus) -> None:
        """A task changed state. Acknowledged when this returns (unless implicit
        acknowledgements are off); if it raises, it is not acknowledged and comes again."""

    def framework_message(self, executor_id: str, agent_id: str, data: bytes) -> None:
        """Data sent by an executor with `send_framework_message`."""

    def agent_lost(self, agent_id: str) -> None:
        """An agent was removed or became unreachable."""

    def executor_lost(self, executor_id: str, agent_id: str, status: int) -> None:
        """An executor exited with `status`."""

    def error(self, message: str) -> None:
        """The master refused or removed this framework; the scheduler stops after this."""
        log.error("%s: framework error: %s", self.address, message)

    # --- actions ------------------------------------------------------------------------

    def task(self, offer: Offer, command: Command, *, task_id: str | None = None, **options: Any) -> TaskInfo:
        """A TaskInfo on `offer`'s agent: `self.task(offer, "echo hi", cpus=0.1, mem=32)`.
        Options: name, cpus, mem, disk, resources, env, labels, data, kill_grace_period,
        uris (fetched into the sandbox first), container."""
        return build_task(offer, command, task_id=task_id or self.new_id(), **options)

    def launch(
        self,
        offers: OfferLike | Iterable[OfferLike],
        tasks: TaskInfo | Iterable[TaskInfo],
        filters: Filters | float | None = None,
    ) -> None:
        """Run `tasks` on these offers (all on one agent); the rest is declined."""
        tasks = (tasks,) if isinstance(tasks, TaskInfo) else tuple(tasks)
        operations = (Operation(OperationType.LAUNCH, tasks=tasks),) if tasks else ()
        if self._session_state is State.REGISTERING:
            self._drop_launch(tasks)
            return
        self.accept(offers, operations, filters)

    def accept(
        self,
        offers: OfferLike | Iterable[OfferLike],
        operations: Sequence[Operation],
        filters: Filters | float | None = None,
    ) -> None:
        """Apply operations (LAUNCH, RESERVE, UNRESERVE) to offers on one agent."""
        self._tell(Accept(self.framework_id, _offer_ids(offers), tuple(operations), _filters(filters)))

    def decline(self, offers: OfferLike | Iterable[OfferLike], refuse_seconds: float = 5.0) -> None:
        """Give offers back; their resources are not re-offered for `refuse_seconds`."""
        self._tell(Decline(self.framework_id, _offer_ids(offers), Filters(refuse_seconds)))

    def revive(self, roles: Iterable[str] = ()) -> None:
        """Clear decline filters and resume offers (for these roles; empty = all)."""
        self._tell(Revive(self.framework_id, tuple(roles)))

    def suppress(self, roles: Iterable[str] = ()) -> None:
        """Stop offers until `revive` (for these roles; empty = all)."""
        self._tell(Suppress(self.framework_id, tuple(roles)))

    def kill(self, task_id: str, agent_id: str = "", grace_period: float | None = None) -> None:
        """Kill a task (SIGTERM, then SIGKILL after `grace_period`, default the task's);
        its terminal status comes as a status update."""
        self._tell(KillTask(self.framework_id, task_id, agent_id, grace_period))

    def reconcile(self, tasks: Iterable[TaskLike] = ()) -> None:
        """Ask for the latest state of these tasks (TaskRef, (task_id, agent_id), a
        TaskStatus or a task id); empty = every non-terminal task (implicit)."""
        self._tell(ReconcileTasks(self.framework_id, tuple(_task_ref(t) for t in tasks)))

    def acknowledge(self, status: TaskStatus) -> None:
        """Acknowledge a status update (only needed with implicit_acknowledgements=False)."""
        if not status.uuid or self._session_state is State.STOPPED:
            return  # reconciliation answers and the like need no acknowledgement
        ack = StatusUpdateAcknowledgement(status.agent_id, self.framework_id, status.task_id, status.uuid)
        self.send(self._driver.master, ack)
        self._acked_uuids[status.uuid] = None
        while len(self._acked_uuids) > _REMEMBERED_ACKS:
            self._acked_uuids.popitem(last=False)

    def send_framework_message(self, executor_id: str, agent_id: str, data: bytes) -> None:
        """Opaque data for one of this framework's executors."""
        self._tell(FrameworkToExecutor(self.framework_id, executor_id, agent_id, bytes(data)))

    def stop(self, failover: bool = False) -> None:  # type: ignore[override]
        """Stop the scheduler. failover=False: the framework is done, the master kills its
        tasks and forgets it. failover=True: the tasks keep running for failover_timeout;
        a new process with the same id (id_file=) takes over."""
        if self._session_state is State.STOPPED:
            return
        if failover:
            self.send(self._driver.master, DeactivateFramework(self.framework_id))
        else:
            self.send(self._driver.master, UnregisterFramework(self.framework_id))
            if self._driver.id_file is not None:
                self._driver.id_file.clear()
        self._halt()

    # --- what the master says -------------------------------------------------------------

    @on(ResourceOffers)
    def _on_offers(self, msg: ResourceOffers) -> None:
        if not self.connected:  # not ours to use yet: give them back at once
            self.send(self._driver.master, Decline(self.framework_id, _offer_ids(msg.offers), Filters(0)))
            return
        self.resource_offers(list(msg.offers))

    @on(RescindResourceOffer)
    def _on_rescind(self, msg: RescindResourceOffer) -> None:
        self.offer_rescinded(msg.offer_id)

    @on(StatusUpdate)
    def _on_status(self, msg: StatusUpdate) -> None:
        status = replace(
            msg.status,
            uuid=msg.uuid,  # the update's uuid is the one to acknowledge; "" = no ack
            agent_id=msg.status.agent_id or msg.agent_id,
            executor_id=msg.status.executor_id or msg.executor_id,
        )
        implicit = self._driver.implicit_acknowledgements
        if implicit and status.uuid and status.uuid in self._acked_uuids:
            self.acknowledge(status)  # a resend: our acknowledgement was lost or late
            return
        self.status_update(status)
        if implicit:
            self.acknowledge(status)

    @on(ExecutorToFramework)
    def _on_framework_message(self, msg: ExecutorToFramework) -> None:
        self.framework_message(msg.executor_id, msg.agent_id, msg.data)

    @on(LostAgent)
    def _on_lost_agent(self, msg: LostAgent) -> None:
        self.agent_lost(msg.agent_id)

    @on(ExitedExecutor)
    def _on_exited_executor(self, msg: ExitedExecutor) -> None:
        self.executor_lost(msg.executor_id, msg.agent_id, msg.status)

    @on(FrameworkError)
    def _on_error(self, msg: FrameworkError) -> None:
        # Like Mesos' driver: an error from the master is fatal (the id is refused or the
        # framework was removed); stop without tearing anything down.
        self.error_message = msg.message
        try:
            self.error(msg.message)
        finally:
            self._halt()

    # --- lifecycle ------------------------------------------------------------------------

    def on_start(self) -> None:
        subscribed = False
        try:
            super().on_start()  # subscribes framework.<id>
            subscribed = True
            self._start_registering()
        except Exception as err:
            self._start_error = err  # run() raises it; pykka stops the actor
            if subscribed:
                Actor.on_stop(self)
            self._stopped_event.set()
            raise
        finally:
            self._started_event.set()

    def on_stop(self) -> None:
        super().on_stop()
        self._stopped_event.set()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Call):  # a local request from another thread (the handle)
            return message.fn(self)
        return super().on_receive(message)

    def _halt(self) -> None:
        self._cancel_timers()
        self._session_state = State.STOPPED
        pykka.ThreadingActor.stop(self)  # the actor stops after the message being handled

    # --- helpers --------------------------------------------------------------------------

    def _tell(self, body: Any) -> None:
        if self._session_state is State.STOPPED:
            log.warning("%s: stopped; not sending %s", self.address, type(body).__name__)
        elif not self.connected:  # warned once per disconnection; the rest at debug level
            level = logging.DEBUG if getattr(self, "_drop_warned", False) else logging.WARNING
            self._drop_warned = True
            log.log(level, "%s: not connected to the master; dropping %s", self.address, type(body).__name__)
        else:
            self.send(self._driver.master, body)

    def _drop_launch(self, tasks: Sequence[TaskInfo]) -> None:
        # As Mesos' driver does: tasks launched while disconnected are reported lost.
        state = TaskState.TASK_DROPPED if self.framework_info.partition_aware else TaskState.TASK_LOST
        for task in tasks:
            status = TaskStatus(
                task_id=task.task_id,
                state=state,
                message="not connected to the master",
                source=StatusSource.SOURCE_MASTER,
                agent_id=task.agent_id,
                timestamp=self.now(),
            )
            self.send(self.address, StatusUpdate(self.framework_id, "", task.agent_id, status, self.now(), ""))


class _Call:
    """Run `fn(scheduler)` on the scheduler's thread (used by SchedulerHandle)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn


def _offer_ids(offers: OfferLike | Iterable[OfferLike]) -> tuple[str, ...]:
    if isinstance(offers, (Offer, str)):
        offers = (offers,)
    ids = tuple(o.offer_id if isinstance(o, Offer) else str(o) for o in offers)
    if not ids:
        raise ValueError("no offers given")
    return ids


def _filters(filters: Filters | float | None) -> Filters:
    if filters is None:
        return Filters()
    if isinstance(filters, Filters):
        return filters
    return Filters(float(filters))


def _task_ref(task: TaskLike) -> TaskRef:
    if isinstance(task, TaskRef):
        return task
    if isinstance(task, TaskStatus):
        return TaskRef(task.task_id, task.agent_id)
    if isinstance(task, str):
        return TaskRef(task)
    task_id, agent_id = task
    return TaskRef(str(task_id), str(agent_id))
