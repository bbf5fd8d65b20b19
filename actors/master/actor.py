"""The master actor: thin handlers over what it keeps track of (frameworks, agents,
offers, tasks), following docs/protocol.md.

>>> from actors.runtime import MemoryTransport, VirtualClock
>>> transport = MemoryTransport(VirtualClock())
>>> master = Master.start(transport, MasterConfig(master_id="m1"))
>>> master.proxy().state().get()["metrics"]["master/slaves_active"]
0.0
>>> _ = master.stop()

Every input is checked before it changes anything; a bad request gets a clear answer
(FrameworkError, ShutdownAgent, a TASK_ERROR/TASK_LOST status) and never kills the actor.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from functools import lru_cache
from typing import Callable

import messages.master_timers  # noqa: F401  (registers the timer messages)
from actors.master.acls import ACLs
from actors.master.agents import Agents
from actors.master.config import MasterConfig
from actors.master.feed import TaskFeed
from actors.master.frameworks import FrameworkRecord, Frameworks
from actors.master.launch import Launcher
from actors.master.maintenance import Maintenance
from actors.master.offers import OfferBook
from actors.master.operator_calls import OperatorCalls
from actors.master.output_relay import OutputRelay
from actors.master.ports import Ports
from actors.master.readmit import Readmission
from actors.master.reservations import OperatorReservations
from actors.master.reconcile import reconcile
from actors.master.snapshot import SnapshotPublisher, build_snapshot
from actors.master.state import metrics, state
from actors.master.tasks import Tasks
from actors.master.updates import Updates
from actors.registry import MemoryRegistryLog, Registry, RegistryState
from actors.runtime import Actor, ActorContext, Transport, on
from actors.security import SenderChecks
from actors.security.master_checks import MasterTrust
from messages import (
    Accept,
    Decline,
    DeactivateFramework,
    Envelope,
    ExecutorToFramework,
    ExitedExecutor,
    FrameworkError,
    FrameworkHeartbeat,
    FrameworkToExecutor,
    KillTask,
    MarkAgentGone,
    MasterHeartbeat,
    MasterInfo,
    OffersRevived,
    OffersSuppressed,
    PingAgent,
    PongAgent,
    QuotaUpdated,
    ReconcileTasks,
    RegisterAgent,
    RegisterFramework,
    ReregisterAgent,
    ReregisterFramework,
    ResourcesAllocated,
    Revive,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    Suppress,
    UnregisterAgent,
    UnregisterFramework,
    WeightsUpdated,
)
from messages.addresses import agents_group, framework_address, frameworks_group
from messages.master_timers import AgentPingTimer, FrameworkFailoverTimer, FrameworkHeartbeatTimer, OfferTimer
from messages.operator import (
    AgentMaintenance,
    ReserveResources,
    StartMaintenance,
    StopMaintenance,
    TeardownFramework,
    UnreserveResources,
    UpdateMaintenanceSchedule,
)
from messages.registry import RegistrySnapshot
from messages.schema import from_plain, to_plain

log = logging.getLogger(__name__)


@lru_cache(maxsize=None)  # one entry per message type
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Master(OutputRelay, SenderChecks, Actor):  # OutputRelay: task output across principals
    """The Mesos-style master at `config.address` ("master")."""

    journal_kind = "master"

    def __init__(
        self,
        transport: Transport,
        config: MasterConfig | None = None,
        context: ActorContext | None = None,
        registry: Registry | None = None,
        deposed: Callable[[], bool] | None = None,
        *,
        acls: ACLs | None = None,
        snapshots: SnapshotPublisher | None = None,
    ) -> None:
        self.config = config or MasterConfig()
        super().__init__(self.config.address, transport, context)
        self.epoch = self.config.epoch
        # Only the leader consumes its mailbox; a deposed leader's own timers and
        # messages to itself (an older epoch) are ignored.
        self.exclusive_mailbox = True
        self.leader_address, self.leader_epoch = self.config.address, self.config.epoch
        # What operators set and who was admitted, read by a new leader before its
        # first message; every change is written there before it is acted on.
        self.registry = registry or Registry(MemoryRegistryLog(), epoch=self.config.epoch)
        # Its writes are made durable once per burst of messages, before any of the
        # burst's output (answers, acks) leaves: one confirm wait, not one per write.
        self.registry.defer_flush = self.hold_output_until
        # True once the leader lock is lost (`mesobus master`: rabbitmq/leader.py)
        self.deposed: Callable[[], bool] = deposed or (lambda: False)
        self.metrics: Counter[str] = Counter()
        self.start_time = self.now()
        self.master_info = MasterInfo(
            master_id=self.config.master_id or self.new_id(),
            hostname=self.config.hostname,
            version=self.config.version,
        )
        self.trust = MasterTrust(self, acls or ACLs.permissive_default())  # who may speak for which framework or agent, and do what
        # The components get the effects and shared records they need (ports.py), not
        # the actor, and are wired to the components they work with.
        ports = Ports(self, self.config, self.metrics, self.registry, self.master_info)
        self.tasks = Tasks(self.config.max_completed_tasks, feed=TaskFeed())
        self.frameworks = Frameworks(ports)
        self.agents = Agents(ports)
        self.offers = OfferBook(ports)
        self.updates = Updates(ports)
        self.launcher = Launcher(ports)
        self.readmit = Readmission(ports)
        tasks, frameworks, agents, offers, updates = self.tasks, self.frameworks, self.agents, self.offers, self.updates
        frameworks.connect(tasks=tasks, offers=offers, agents=agents, updates=updates)
        agents.connect(updates=updates, tasks=tasks, offers=offers, frameworks=frameworks, readmit=self.readmit)
        offers.connect(frameworks=frameworks, agents=agents)
        updates.connect(agents=agents, tasks=tasks, frameworks=frameworks, offers=offers)
        self.launcher.connect(offers=offers, tasks=tasks, agents=agents)
        self.readmit.connect(frameworks=frameworks, tasks=tasks, agents=agents, updates=updates, offers=offers)
        self.maintenance = Maintenance(ports)
        self.maintenance.connect(agents=agents, offers=offers)
        self.reservations = OperatorReservations(ports, self.trust.acls)
        self.reservations.connect(agents=agents, offers=offers, tasks=tasks)
        self.operator = OperatorCalls(self)
        self._views: dict = {}  # the snapshot's task views, reused while a task is unchanged
        # Given by the caller when it must serve it before this actor's first message is
        # handled (a new leader's HTTP API, without queueing behind the agents' burst).
        self.snapshots = snapshots if snapshots is not None else SnapshotPublisher()
        self.snapshots.build = lambda version: build_snapshot(self, version, self._views)
        self.snapshots.feed = self.tasks.feed

    # --- the journal (design.md §6): rebuilt for replay from its ActorStarted record -----

    def journal_config(self) -> dict:
        # The config as given (an empty master_id is generated again, from the same ids),
        # and the registry it started from (replayed from a copy in memory).
        config = dataclasses.asdict(self.config)
        config["registry"] = to_plain(self.registry.state.snapshot())
        return config

    @classmethod
    def from_journal(cls, config: dict, transport: Transport, context: ActorContext) -> "Master":
        options = dict(config)
        state = RegistryState()
        if "registry" in options:
            state.apply(from_plain(RegistrySnapshot, options.pop("registry")))
        epoch = options.get("epoch", 0)
        return cls(transport, MasterConfig(**options), context, Registry(MemoryRegistryLog(), state, epoch))

    def on_start(self) -> None:
        super().on_start()
        # What operators set, from the registry, before anything else reaches the allocator.
        state = self.registry.state
        if state.weights:
            self.send(self.config.allocator_address, WeightsUpdated(dict(state.weights)))
        for role, limit in state.quota.items():
            self.send(self.config.allocator_address, QuotaUpdated(role, limit))
        # A master that starts (a new leader, or this one restarted) knows no one yet: ask
        # every agent and scheduler of the cluster to register again now, rather than
        # after their own timeouts (an agent's ping timeout is 75 s by default).
        self.send(agents_group(self.address), PingAgent(connected=False))
        self.send(frameworks_group(self.address), MasterHeartbeat(self.master_info.master_id, known=False))
        self.snapshots.attach(self.actor_ref)

    # --- read-only views (for the CLI/HTTP layer: master.proxy().state().get()) -------

    def state(self) -> dict:
        """Frameworks, agents, tasks, offers and metrics as plain data."""
        return state(self)

    def metrics_snapshot(self) -> dict[str, float]:
        return metrics(self)

    def publish_snapshot(self):
        """The HTTP API's picture of this master, rebuilt when due (actors/master/snapshot.py)."""
        return self.snapshots.refresh()

    def dispatch(self, envelope: Envelope, user_id: str | None = None) -> str | None:
        """`user_id`: the verified publisher; None when handed over in-process (replay)."""
        if self.deposed():  # it lost the leader lock: another master may lead already
            self.metrics["master/messages_after_deposed"] += 1
            return None  # its connection is gone: the broker gives the message to the new leader
        self.metrics[f"master/messages_{_snake(envelope.type)}"] += 1
        self.snapshots.changed()
        reason = super().dispatch(envelope, user_id)
        if reason is None:
            self.trust.bind_after(envelope, self.trust.principal if user_id is None else user_id)
        elif reason.startswith("refused"):
            self.metrics["master/messages_refused"] += 1
        return reason

    def sender_problem(self, envelope: Envelope, user: str) -> str | None:
        return self.trust.problem(envelope, user)

    # --- frameworks ---------------------------------------------------------------------

    @on(RegisterFramework)
    def _register_framework(self, msg: RegisterFramework) -> None:
        self.frameworks.register(msg.framework, reregister=False)

    @on(ReregisterFramework)
    def _reregister_framework(self, msg: ReregisterFramework) -> None:
        self.frameworks.register(msg.framework, reregister=True, failover=msg.failover)

    @on(FrameworkHeartbeat)
    def _framework_heartbeat(self, msg: FrameworkHeartbeat) -> None:
        self.frameworks.heartbeat(msg.framework_id)

    @on(UnregisterFramework)
    def _unregister_framework(self, msg: UnregisterFramework) -> None:
        if self._framework(msg.framework_id) is not None:
            self.frameworks.remove(msg.framework_id, "the framework unregistered")

    @on(DeactivateFramework)
    def _deactivate_framework(self, msg: DeactivateFramework) -> None:
        if self._framework(msg.framework_id) is not None:
            self.frameworks.disconnect(msg.framework_id, "the framework deactivated itself")

    @on(Accept)
    def _accept(self, msg: Accept) -> None:
        framework = self._framework(msg.framework_id)
        if framework is not None:
            self.launcher.accept(framework, msg)

    @on(Decline)
    def _decline(self, msg: Decline) -> None:
        if self._framework(msg.framework_id) is None:
            return
        for offer_id in msg.offer_ids:
            offer = self.offers.get(offer_id)
            if offer is None or offer.framework_id != msg.framework_id:
                self.metrics["master/invalid_declines"] += 1
                continue
            self.offers.take(offer_id)
            self.offers.recover(offer.framework_id, offer.agent_id, offer.role, offer.resources, msg.filters.refuse_seconds)
            self.metrics["master/offers_declined"] += 1

    @on(Revive)
    def _revive(self, msg: Revive) -> None:
        roles = self._roles(msg.framework_id, msg.roles)
        if roles is not None:
            self.send(self.config.allocator_address, OffersRevived(msg.framework_id, roles))

    @on(Suppress)
    def _suppress(self, msg: Suppress) -> None:
        roles = self._roles(msg.framework_id, msg.roles)
        if roles is not None:
            self.send(self.config.allocator_address, OffersSuppressed(msg.framework_id, roles))

    @on(KillTask)
    def _kill(self, msg: KillTask) -> None:
        if self._framework(msg.framework_id) is not None:
            self.updates.kill(msg)

    @on(ReconcileTasks)
    def _reconcile(self, msg: ReconcileTasks) -> None:
        framework = self._framework(msg.framework_id)
        if framework is None:
            return
        for update in reconcile(msg, framework.info.partition_aware, self.tasks, self.agents, self.now()):
            self.send(framework_address(msg.framework_id), update)

    @on(StatusUpdateAcknowledgement)
    def _acknowledge(self, msg: StatusUpdateAcknowledgement) -> None:
        if self._framework(msg.framework_id) is not None:
            self.updates.acknowledge(msg)

    @on(FrameworkToExecutor)
    def _to_executor(self, msg: FrameworkToExecutor) -> None:
        if self._framework(msg.framework_id) is not None:
            self.updates.to_executor(msg)

    # --- agents -------------------------------------------------------------------------

    @on(RegisterAgent)
    def _register_agent(self, msg: RegisterAgent) -> None:
        self.agents.register(msg.agent, msg.version)
        self.operator.readmitted(msg.agent.agent_id)

    @on(ReregisterAgent)
    def _reregister_agent(self, msg: ReregisterAgent) -> None:
        self.readmit.reregister(msg.agent, msg.version, msg.tasks, msg.executors, msg.frameworks)
        self.operator.readmitted(msg.agent.agent_id)

    @on(UnregisterAgent)
    def _unregister_agent(self, msg: UnregisterAgent) -> None:
        self.agents.unregister(msg.agent_id)

    @on(PongAgent)
    def _pong(self, msg: PongAgent) -> None:
        self.agents.pong(msg.agent_id)

    @on(StatusUpdate)
    def _status_update(self, msg: StatusUpdate) -> None:
        self.updates.status_update(msg)

    @on(ExitedExecutor)
    def _exited_executor(self, msg: ExitedExecutor) -> None:
        self.updates.executor_exited(msg)

    @on(ExecutorToFramework)
    def _to_framework(self, msg: ExecutorToFramework) -> None:
        self.updates.to_framework(msg)

    # --- operators: weights, quota, reservations, maintenance (in the registry), teardown

    @on(WeightsUpdated, QuotaUpdated, TeardownFramework, AgentMaintenance, MarkAgentGone, ReserveResources,
        UnreserveResources, UpdateMaintenanceSchedule, StartMaintenance, StopMaintenance)
    def _operator_call(self, msg) -> None:
        self.operator.handle(msg)

    # --- allocator and timers -----------------------------------------------------------

    @on(ResourcesAllocated)
    def _allocated(self, msg: ResourcesAllocated) -> None:
        if self.envelope.sender != self.config.allocator_address or self.envelope.epoch != self.epoch:
            log.warning("master: ignoring ResourcesAllocated from %s (epoch %d)", self.envelope.sender,
                        self.envelope.epoch)
            self.metrics["master/allocations_from_strangers"] += 1
            return
        self.offers.make(self.operator.held_back(self.reservations.settled(msg.allocations)))

    @on(AgentPingTimer)
    def _ping_timer(self, msg: AgentPingTimer) -> None:
        self.agents.on_ping_timer(msg)

    @on(FrameworkHeartbeatTimer)
    def _heartbeat_timer(self, msg: FrameworkHeartbeatTimer) -> None:
        self.frameworks.on_heartbeat_timer(msg)

    @on(FrameworkFailoverTimer)
    def _failover_timer(self, msg: FrameworkFailoverTimer) -> None:
        self.frameworks.on_failover_timer(msg)

    @on(OfferTimer)
    def _offer_timer(self, msg: OfferTimer) -> None:
        self.offers.on_timeout(msg.offer_id)

    # --- helpers ------------------------------------------------------------------------

    def _framework(self, framework_id: str) -> FrameworkRecord | None:
        """The framework a request is about; a removed one is told so, an unknown one
        (this master restarted) is ignored: its heartbeat answer makes it re-register."""
        record = self.frameworks.get(framework_id)
        if record is not None:
            self.frameworks.heard(framework_id)
            return record
        if self.frameworks.is_removed(framework_id):
            self.reply(FrameworkError("framework removed"))
        else:
            log.info("master: ignoring %s from unknown framework %r", self.envelope.type, framework_id)
            self.metrics["master/messages_from_unknown_frameworks"] += 1
        return None

    def _roles(self, framework_id: str, roles: tuple[str, ...]) -> tuple[str, ...] | None:
        record = self._framework(framework_id)
        if record is None:
            return None
        unknown = [r for r in roles if r not in record.info.roles]
        if unknown:
            log.warning("master: framework %s named roles it is not in: %s", framework_id, unknown)
            self.metrics["master/invalid_role_requests"] += 1
            roles = tuple(r for r in roles if r in record.info.roles)
            if not roles:
                return None
        return roles


