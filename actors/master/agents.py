"""The master's agents: who is registered, reachable, what each has, and their health.

    (new) --RegisterAgent--> REACHABLE --max_missed_pings--> UNREACHABLE
    UNREACHABLE --Register/ReregisterAgent--> REACHABLE (re-admitted, see readmit.py)
    REACHABLE --UnregisterAgent--> REMOVED (forgotten)

Health: a `PingAgent` every `ping_interval`; a ping still unanswered when the next one is
due counts as missed; after `max_missed_pings` misses in a row the agent is unreachable:
its offers are rescinded, its tasks become TASK_LOST (TASK_UNREACHABLE for
partition-aware frameworks), frameworks get `LostAgent`, the allocator removes it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.master.maintenance import down_machine
from actors.master.ports import Component, Ports
from actors.master.tasks import Key
from messages import (
    AgentAdded,
    AgentInfo,
    AgentRegistered,
    AgentRemoved,
    ExecutorInfo,
    LostAgent,
    PingAgent,
    Resources,
    ShutdownAgent,
    StatusReason,
    TaskState,
)
from messages.addresses import agent_address, framework_address
from messages.ids import address_id_problem
from messages.master_timers import AgentPingTimer
from messages.registry import AgentAdmission, AgentMarkedGone

if TYPE_CHECKING:
    from actors.master.frameworks import Frameworks
    from actors.master.offers import OfferBook
    from actors.master.readmit import Readmission
    from actors.master.tasks import Tasks
    from actors.master.updates import Updates

log = logging.getLogger(__name__)


@dataclass
class ExecutorRecord:
    framework_id: str
    executor_id: str
    info: ExecutorInfo | None  # None for the built-in command executor
    resources: Resources = field(default_factory=Resources)
    role: str = "*"


@dataclass
class AgentRecord:
    info: AgentInfo
    reservations: Resources = field(default_factory=Resources)  # dynamic ones (RESERVE)
    total: Resources = field(default_factory=Resources)  # info.resources with reservations
    reachable: bool = True
    version: str = ""
    registered_at: float = 0.0
    reregistered_at: float | None = None
    unreachable_at: float | None = None
    missed_pings: int = 0
    awaiting_pong: bool = False
    token: int = 0
    ping_timer: str = ""
    executors: dict[tuple[str, str], ExecutorRecord] = field(default_factory=dict)
    lost_tasks: dict[Key, None] = field(default_factory=dict)  # marked TASK_LOST when unreachable

    @property
    def id(self) -> str:
        return self.info.agent_id

    def apply_info(self, info: AgentInfo) -> None:
        """Take the agent's (re)reported info; keep dynamic reservations that still fit."""
        self.info = info
        if not self.reservations.flatten() <= info.resources.unreserved():
            log.warning("master: agent %s shrank below its reservations; dropping them", info.agent_id)
            self.reservations = Resources()
        self.total = info.resources - self.reservations.flatten() + self.reservations

    def convert(self, take: Resources, give: Resources) -> None:
        """A RESERVE/UNRESERVE: `take` leaves the total, `give` joins it."""
        self.total = self.total - take + give

    def drop_executors_of(self, framework_id: str) -> bool:
        keys = [k for k in self.executors if k[0] == framework_id]
        for key in keys:
            del self.executors[key]
        return bool(keys)


def agent_info_problem(info: AgentInfo) -> str | None:
    problem = address_id_problem("agent_id", info.agent_id)
    if problem:
        return problem
    if not info.hostname:
        return "agent hostname must not be empty"
    if info.resources.is_empty():
        return "agent resources must not be empty"
    return None


class Agents(Component):
    """Registered agents (reachable or not) and the ids of removed ones."""

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        self._records: dict[str, AgentRecord] = {}
        self._removed: OrderedDict[str, float] = OrderedDict()  # id -> when

    def connect(
        self, *, updates: "Updates", tasks: "Tasks", offers: "OfferBook", frameworks: "Frameworks",
        readmit: "Readmission",
    ) -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.updates = updates
        self.tasks = tasks
        self.offers = offers
        self.frameworks = frameworks
        self.readmit = readmit

    # --- queries ----------------------------------------------------------------------

    def get(self, agent_id: str) -> AgentRecord | None:
        return self._records.get(agent_id)

    def all(self) -> list[AgentRecord]:
        return list(self._records.values())

    def reachable(self) -> list[AgentRecord]:
        return [a for a in self._records.values() if a.reachable]

    def was_removed(self, agent_id: str) -> bool:
        return agent_id in self._removed

    # --- registration -----------------------------------------------------------------

    def register(self, info: AgentInfo, version: str) -> None:
        """RegisterAgent: a new agent, or a retry of one (same hostname)."""
        problem = agent_info_problem(info) or self.admission_problem(info)
        if problem:
            self._refuse(f"invalid agent: {problem}")
            return
        record = self._records.get(info.agent_id)
        if record is not None and record.reachable:
            if record.info.hostname != info.hostname:
                self._refuse(f"agent id {info.agent_id!r} already in use by {record.info.hostname}")
                return
            # A retry whose answer was lost: answer again, change nothing.
            self.io.reply(AgentRegistered(info.agent_id, self.config.ping_interval, self.config.max_missed_pings))
            return
        if record is not None:  # unreachable, now back without its tasks
            self.readmit.readmit(info, version, (), (), (), registered=True)
            return
        self.admit(info)
        self._removed.pop(info.agent_id, None)
        record = AgentRecord(info=info, version=version, registered_at=self.io.now())
        record.reservations = self.registry.state.reservations.get(info.agent_id, Resources())
        record.apply_info(info)
        self._records[info.agent_id] = record
        self.io.send(
            self.config.allocator_address,
            AgentAdded(info.agent_id, record.total, info.hostname, dict(info.attributes)),
        )
        self.metrics["master/slave_registrations"] += 1
        self.start_pinging(record)
        self.io.reply(AgentRegistered(info.agent_id, self.config.ping_interval, self.config.max_missed_pings))
        log.info("master: agent %s (%s) registered with %s", info.agent_id, info.hostname, record.total)

    def _refuse(self, why: str) -> None:
        log.warning("master: refusing an agent: %s", why)
        self.metrics["master/slave_registrations_refused"] += 1
        self.io.reply(ShutdownAgent(why))

    def add_record(self, info: AgentInfo, version: str) -> AgentRecord:
        """A new record for an agent the master did not know (used by readmit), with
        the dynamic reservations the registry keeps for it."""
        self.admit(info)
        self._removed.pop(info.agent_id, None)
        record = AgentRecord(info=info, version=version, registered_at=self.io.now())
        record.reservations = self.registry.state.reservations.get(info.agent_id, Resources())
        self._records[info.agent_id] = record
        return record

    # --- the registry -----------------------------------------------------------------

    def gone_problem(self, agent_id: str) -> str | None:
        if agent_id in self.registry.state.gone:
            return f"agent {agent_id!r} was marked gone by an operator"
        return None

    def admission_problem(self, info: AgentInfo) -> str | None:
        """Why the registry refuses this agent: marked gone, or its machine is DOWN."""
        problem = self.gone_problem(info.agent_id)
        if problem is None and self.registry.state.down:
            machine = down_machine(self.registry.state.down, info.hostname)
            if machine is not None:
                problem = f"agent {info.agent_id!r} is on machine {info.hostname!r}, which is DOWN for maintenance"
        return problem

    def admit(self, info: AgentInfo) -> None:
        """Record the admission in the registry (before the agent is answered), unless
        it is there already with this hostname (a re-registration after a failover)."""
        if self.registry.state.admitted.get(info.agent_id) != info.hostname:
            self.registry.write(AgentAdmission(info.agent_id, info.hostname))

    def mark_gone(self, agent_id: str) -> str | tuple[int, str] | None:
        """MarkAgentGone (an operator): written to the registry first; its tasks become
        TASK_GONE_BY_OPERATOR, it is told to shut down and never admitted again. As in
        Mesos, the agent must be registered, unreachable or admitted before a failover
        and not back yet (else 404); one already gone is no change."""
        problem = address_id_problem("agent_id", agent_id)
        if problem:
            log.warning("master: refusing MarkAgentGone: %s", problem)
            self.metrics["master/invalid_agent_gone"] += 1
            return problem
        if agent_id in self.registry.state.gone:
            return None
        if agent_id not in self._records and agent_id not in self.registry.state.admitted:
            return 404, f"Agent {agent_id!r} not found"
        self.registry.write(AgentMarkedGone(agent_id))
        self.metrics["master/slaves_marked_gone"] += 1
        record = self._records.pop(agent_id, None)
        if record is None:
            return None
        log.warning("master: agent %s marked gone by an operator", agent_id)
        self.stop_pinging(record)
        if record.reachable:
            self.offers.rescind_on_agent(agent_id)
            self._agent_gone(agent_id)
        for task in self.tasks.on_agent(agent_id):
            self.updates.transition(task, TaskState.TASK_GONE_BY_OPERATOR, StatusReason.REASON_AGENT_REMOVED,
                                 "agent marked gone by an operator")
        self.io.send(agent_address(agent_id), ShutdownAgent("marked gone by an operator"))
        self._removed[agent_id] = self.io.now()
        self.metrics["master/slave_removals"] += 1

    # --- health -----------------------------------------------------------------------

    def start_pinging(self, record: AgentRecord) -> None:
        self.stop_pinging(record)
        record.missed_pings = 0
        record.awaiting_pong = False
        record.ping_timer = self.io.delay(self.config.ping_interval, AgentPingTimer(record.id, record.token))

    def stop_pinging(self, record: AgentRecord) -> None:
        record.token += 1
        if record.ping_timer:
            self.io.cancel(record.ping_timer)
            record.ping_timer = ""

    def on_ping_timer(self, msg: AgentPingTimer) -> None:
        record = self._records.get(msg.agent_id)
        if record is None or not record.reachable or msg.token != record.token:
            return
        record.missed_pings = record.missed_pings + 1 if record.awaiting_pong else 0
        if record.missed_pings >= self.config.max_missed_pings:
            self.unreachable(record, f"{record.missed_pings} pings unanswered")
            return
        self.io.send(agent_address(record.id), PingAgent(connected=True))
        record.awaiting_pong = True
        record.ping_timer = self.io.delay(self.config.ping_interval, AgentPingTimer(record.id, record.token))

    def pong(self, agent_id: str) -> None:
        record = self._records.get(agent_id)
        if record is None or not record.reachable:
            # Not answered: agents answer every PingAgent with a pong, so answering a pong
            # with PingAgent(connected=False) could bounce forever. Pings stopped for it,
            # so it re-registers after its own ping timeout (or sooner, see not_known).
            self.metrics["master/pongs_from_unknown_agents"] += 1
            return
        record.awaiting_pong = False
        record.missed_pings = 0

    def not_known(self, agent_id: str) -> None:
        """A message from an agent the master does not count as registered: tell it to
        re-register (PingAgent(connected=False), protocol.md "Agent <-> master" 2)."""
        self.metrics["master/messages_from_unknown_agents"] += 1
        self.io.reply(PingAgent(connected=False))

    # --- losing agents ----------------------------------------------------------------

    def unreachable(self, record: AgentRecord, why: str) -> None:
        log.warning("master: agent %s is unreachable: %s", record.id, why)
        self.stop_pinging(record)
        record.reachable = False
        record.unreachable_at = self.io.now()
        self.offers.rescind_on_agent(record.id)
        for task in self.tasks.on_agent(record.id):
            if self.frameworks.partition_aware(task.framework_id):
                self.updates.transition(task, TaskState.TASK_UNREACHABLE, StatusReason.REASON_AGENT_REMOVED, why)
            else:
                record.lost_tasks[task.key] = None
                self.updates.transition(task, TaskState.TASK_LOST, StatusReason.REASON_AGENT_REMOVED, why)
        record.executors.clear()
        self._agent_gone(record.id)
        self.metrics["master/slave_unreachable"] += 1

    def unregister(self, agent_id: str) -> None:
        """UnregisterAgent: a clean shutdown; the agent is forgotten at once."""
        if agent_id in self._records:
            log.info("master: agent %s unregistered", agent_id)
            self.remove(agent_id, "agent unregistered")

    def remove(self, agent_id: str, why: str, *, by_operator: bool = False) -> None:
        """Forget the agent (unregistered, or `by_operator`: its machine went DOWN, when
        it is also told to shut down). Its tasks become TASK_LOST, or TASK_GONE
        (TASK_GONE_BY_OPERATOR) for partition-aware frameworks."""
        record = self._records.get(agent_id)
        if record is None:
            return
        self.stop_pinging(record)
        if by_operator:
            self.io.send(agent_address(agent_id), ShutdownAgent(why))
        if record.reachable:
            self.offers.rescind_on_agent(agent_id)
            gone = TaskState.TASK_GONE_BY_OPERATOR if by_operator else TaskState.TASK_GONE
            for task in self.tasks.on_agent(agent_id):
                pa = self.frameworks.partition_aware(task.framework_id)
                state = gone if pa else TaskState.TASK_LOST
                self.updates.transition(task, state, StatusReason.REASON_AGENT_REMOVED, why)
            self._agent_gone(agent_id)
        else:  # its tasks were already reported unreachable/lost
            for task in self.tasks.on_agent(agent_id):
                self.updates.transition(task, TaskState.TASK_GONE, StatusReason.REASON_AGENT_REMOVED, "agent removed")
        del self._records[agent_id]
        self.registry.write(AgentAdmission(agent_id, record.info.hostname, admitted=False))
        self._removed[agent_id] = self.io.now()
        while len(self._removed) > self.config.max_removed_agents:
            self._removed.popitem(last=False)
        self.metrics["master/slave_removals"] += 1

    def _agent_gone(self, agent_id: str) -> None:
        self.io.send(self.config.allocator_address, AgentRemoved(agent_id))
        for framework in self.frameworks.connected():
            self.io.send(framework_address(framework.id), LostAgent(agent_id))
