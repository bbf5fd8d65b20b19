"""The master's frameworks: who is registered, connected or failing over, and for how long.

    (new) --Register/Reregister--> CONNECTED --silent framework_timeout / Deactivate-->
    DISCONNECTED --failover_timeout--> REMOVED (tasks killed; may not come back)
    DISCONNECTED --Reregister--> CONNECTED (tasks intact)
    CONNECTED --Unregister--> REMOVED

A framework the master learns about only from a re-registering agent (the master
restarted) is RECOVERED: disconnected until its scheduler re-registers.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable

from actors.master.common import role_problem
from actors.master.ports import Component, Ports
from messages import (
    AllocationEntry,
    FrameworkActivated,
    FrameworkAdded,
    FrameworkDeactivated,
    FrameworkError,
    FrameworkInfo,
    FrameworkRegistered,
    FrameworkRemoved,
    FrameworkReregistered,
    KillTask,
    MasterHeartbeat,
    Resources,
    ShutdownFramework,
    StatusReason,
    TaskState,
)
from messages.addresses import agent_address
from messages.ids import address_id_problem
from messages.master_timers import FrameworkFailoverTimer, FrameworkHeartbeatTimer
from messages.registry import FrameworkTornDown

if TYPE_CHECKING:
    from actors.master.agents import Agents
    from actors.master.offers import OfferBook
    from actors.master.tasks import Tasks
    from actors.master.updates import Updates

log = logging.getLogger(__name__)

MAX_FAILOVER_TIMEOUT = 365 * 24 * 3600.0


@dataclass
class FrameworkRecord:
    info: FrameworkInfo
    connected: bool = True
    recovered: bool = False  # known from an agent only; its scheduler has not come back yet
    registered_at: float = 0.0
    reregistered_at: float | None = None
    disconnected_at: float | None = None
    last_heard: float = 0.0
    token: int = 0  # bumped on every change, so stale timers are ignored
    heartbeat_timer: str = ""
    failover_timer: str = ""

    @property
    def id(self) -> str:
        return self.info.framework_id

    @property
    def active(self) -> bool:
        """Gets offers (mesobus has no separate 'inactive but connected' state)."""
        return self.connected


def info_problem(info: FrameworkInfo) -> str | None:
    """Why a FrameworkInfo cannot be admitted, or None."""
    problem = address_id_problem("framework_id", info.framework_id)
    if problem:
        return problem
    if not info.roles:
        return "a framework needs at least one role"
    if len(set(info.roles)) != len(info.roles):
        return f"roles {list(info.roles)} name a role twice"
    for role in info.roles:
        problem = role_problem(role)
        if problem:
            return problem
    timeout = info.failover_timeout
    if not math.isfinite(timeout) or not 0 <= timeout <= MAX_FAILOVER_TIMEOUT:
        return f"failover_timeout {timeout!r} must be between 0 and {MAX_FAILOVER_TIMEOUT:.0f} seconds"
    return None


class Frameworks(Component):
    """Registered frameworks and the ids of removed ones."""

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        self._records: dict[str, FrameworkRecord] = {}
        self._removed: OrderedDict[str, dict] = OrderedDict()  # id -> summary

    def connect(self, *, tasks: "Tasks", offers: "OfferBook", agents: "Agents", updates: "Updates") -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.tasks = tasks
        self.offers = offers
        self.agents = agents
        self.updates = updates

    # --- queries ----------------------------------------------------------------------

    def get(self, framework_id: str) -> FrameworkRecord | None:
        return self._records.get(framework_id)

    def all(self) -> list[FrameworkRecord]:
        return list(self._records.values())

    def connected(self) -> list[FrameworkRecord]:
        return [r for r in self._records.values() if r.connected]

    def is_removed(self, framework_id: str) -> bool:
        return framework_id in self._removed or framework_id in self.registry.state.torn_down

    def removed(self) -> list[dict]:
        return list(self._removed.values())

    def partition_aware(self, framework_id: str) -> bool:
        record = self._records.get(framework_id)
        return record is not None and record.info.partition_aware

    # --- registration -----------------------------------------------------------------

    def register(self, info: FrameworkInfo, *, reregister: bool, failover: bool = False) -> None:
        """RegisterFramework / ReregisterFramework; answers the sender."""
        answer = FrameworkReregistered if reregister else FrameworkRegistered
        problem = info_problem(info)
        if problem:
            self._refuse(f"invalid framework: {problem}")
            return
        fid = info.framework_id
        if self.is_removed(fid):
            self._refuse("framework removed")
            return
        record = self._records.get(fid)
        if record is None:
            self._admit(info)
            self.io.reply(answer(fid, self.master_info))
            return
        if record.connected and not reregister and info != record.info:
            self._refuse("framework id already in use")
            return
        if not self._update_info(record, info):
            return
        if record.connected:
            # A retried request, or a new scheduler process taking over (failover).
            if reregister and failover:
                self.offers.rescind_of_framework(fid)
            self.heard(fid)
        else:
            self._reconnect(record)
        self.metrics["master/framework_reregistrations" if reregister else "master/framework_registrations"] += 1
        self.io.reply(answer(fid, self.master_info))

    def _refuse(self, why: str) -> None:
        log.warning("master: refusing a framework: %s", why)
        self.metrics["master/framework_registrations_refused"] += 1
        self.io.reply(FrameworkError(why))

    def _admit(self, info: FrameworkInfo) -> None:
        now = self.io.now()
        record = FrameworkRecord(info=info, registered_at=now, last_heard=now)
        self._records[info.framework_id] = record
        self.io.send(self.config.allocator_address, FrameworkAdded(info.framework_id, info.roles, True))
        self.metrics["master/framework_registrations"] += 1
        self._watch(record)
        log.info("master: framework %s (%s) registered", info.framework_id, info.name)

    def _update_info(self, record: FrameworkRecord, info: FrameworkInfo) -> bool:
        """Take the new FrameworkInfo; a change of roles re-adds it to the allocator."""
        if set(info.roles) == set(record.info.roles):
            record.info = info
            return True
        in_use = {t.role for t in self.tasks.of_framework(info.framework_id)}
        dropped = sorted(in_use - set(info.roles))
        if dropped:
            self._refuse(f"cannot leave role(s) {dropped}: the framework has live tasks in them")
            return False
        self.offers.rescind_of_framework(info.framework_id, notify=record.connected)
        record.info = info
        self.io.send(self.config.allocator_address, FrameworkRemoved(info.framework_id))
        self.io.send(
            self.config.allocator_address,
            FrameworkAdded(info.framework_id, info.roles, record.connected, self.used_entries(info.framework_id)),
        )
        return True

    def _reconnect(self, record: FrameworkRecord) -> None:
        self._cancel_timers(record)
        record.connected = True
        record.recovered = False
        record.disconnected_at = None
        record.reregistered_at = self.io.now()
        self.io.send(self.config.allocator_address, FrameworkActivated(record.id))
        self._watch(record)
        log.info("master: framework %s reconnected", record.id)

    def recover(self, framework_id: str, info: FrameworkInfo | None, roles: Iterable[str]) -> FrameworkRecord:
        """A re-registering agent runs tasks of a framework this master never saw."""
        roles = tuple(dict.fromkeys(roles))
        if info is None:
            info = FrameworkInfo(user="", name="", framework_id=framework_id, roles=roles or ("*",))
        else:
            extra = tuple(r for r in roles if r not in info.roles)
            info = replace(info, framework_id=framework_id, roles=tuple(info.roles) + extra)
        record = FrameworkRecord(info=info, connected=False, recovered=True, registered_at=self.io.now())
        record.disconnected_at = self.io.now()
        self._records[framework_id] = record
        self.io.send(self.config.allocator_address, FrameworkAdded(framework_id, info.roles, False))
        timeout = max(info.failover_timeout, self.config.recovered_framework_timeout)
        record.failover_timer = self.io.delay(timeout, FrameworkFailoverTimer(framework_id, record.token))
        log.info("master: recovered framework %s from an agent; waiting %.0fs for it", framework_id, timeout)
        return record

    # --- liveness ---------------------------------------------------------------------

    def heard(self, framework_id: str) -> None:
        record = self._records.get(framework_id)
        if record is not None and record.connected:
            record.last_heard = self.io.now()

    def heartbeat(self, framework_id: str) -> None:
        record = self._records.get(framework_id)
        known = record is not None and record.connected
        if known:
            record.last_heard = self.io.now()
        self.io.reply(MasterHeartbeat(self.master_info.master_id, known))

    def _watch(self, record: FrameworkRecord) -> None:
        record.token += 1
        record.last_heard = self.io.now()
        timeout = self.config.framework_timeout
        record.heartbeat_timer = self.io.delay(timeout, FrameworkHeartbeatTimer(record.id, record.token))

    def on_heartbeat_timer(self, msg: FrameworkHeartbeatTimer) -> None:
        record = self._records.get(msg.framework_id)
        if record is None or not record.connected or msg.token != record.token:
            return
        timeout = self.config.framework_timeout
        silent = self.io.now() - record.last_heard
        if silent >= timeout:
            self.disconnect(record.id, f"no message for {silent:.1f}s")
        else:
            record.heartbeat_timer = self.io.delay(timeout - silent, FrameworkHeartbeatTimer(record.id, record.token))

    def disconnect(self, framework_id: str, why: str) -> None:
        """Stop offers and start the failover timeout; its tasks keep running."""
        record = self._records.get(framework_id)
        if record is None or not record.connected:
            return
        log.warning("master: framework %s disconnected: %s", framework_id, why)
        self._cancel_timers(record)
        record.connected = False
        record.disconnected_at = self.io.now()
        self.io.send(self.config.allocator_address, FrameworkDeactivated(framework_id))
        self.offers.rescind_of_framework(framework_id)
        self.metrics["master/framework_disconnections"] += 1
        timeout = record.info.failover_timeout
        if timeout <= 0:
            self.remove(framework_id, f"disconnected ({why}) with failover_timeout 0")
        else:
            record.failover_timer = self.io.delay(timeout, FrameworkFailoverTimer(framework_id, record.token))

    def on_failover_timer(self, msg: FrameworkFailoverTimer) -> None:
        record = self._records.get(msg.framework_id)
        if record is None or record.connected or msg.token != record.token:
            return
        self.remove(record.id, "failover timeout passed")

    def _cancel_timers(self, record: FrameworkRecord) -> None:
        record.token += 1
        for timer in (record.heartbeat_timer, record.failover_timer):
            if timer:
                self.io.cancel(timer)
        record.heartbeat_timer = record.failover_timer = ""

    # --- removal ----------------------------------------------------------------------

    def remove(self, framework_id: str, why: str) -> None:
        """Kill its tasks, shut down its executors, return its resources, forget it."""
        if framework_id not in self._records:
            return
        self.registry.write(FrameworkTornDown(framework_id))  # before anything is undone
        record = self._records.pop(framework_id)
        # A teardown the framework asked for is routine; losing one is worth a warning.
        level = logging.INFO if why == "the framework unregistered" else logging.WARNING
        log.log(level, "master: removing framework %s: %s", framework_id, why)
        self._cancel_timers(record)
        self.offers.drop_of_framework(framework_id)
        touched: dict[str, None] = {}
        now = self.io.now()
        for task in self.tasks.of_framework(framework_id):
            agent = self.agents.get(task.agent_id)
            if agent is not None and agent.reachable:
                self.io.send(agent_address(task.agent_id), KillTask(framework_id, task.task_id, task.agent_id))
                touched[task.agent_id] = None
            status = self.updates.status_for(
                task, TaskState.TASK_KILLED, StatusReason.REASON_FRAMEWORK_REMOVED, f"framework removed: {why}"
            )
            self.tasks.finish(task, TaskState.TASK_KILLED, now, status)
        for agent in self.agents.reachable():
            if agent.drop_executors_of(framework_id):
                touched[agent.id] = None
        for agent_id in touched:
            self.io.send(agent_address(agent_id), ShutdownFramework(framework_id))
        self.io.send(self.config.allocator_address, FrameworkRemoved(framework_id))
        self._removed[framework_id] = {
            "id": framework_id,
            "name": record.info.name,
            "user": record.info.user,
            "roles": list(record.info.roles),
            "registered_at": record.registered_at,
            "removed_at": now,
            "reason": why,
        }
        while len(self._removed) > self.config.max_completed_frameworks:
            self._removed.popitem(last=False)
        self.metrics["master/framework_removals"] += 1

    # --- what it uses -----------------------------------------------------------------

    def used_entries(self, framework_id: str) -> tuple[AllocationEntry, ...]:
        """What the framework holds on reachable agents, per (agent, role)."""
        used: dict[tuple[str, str], Resources] = {}
        for task in self.tasks.of_framework(framework_id):
            agent = self.agents.get(task.agent_id)
            if agent is not None and agent.reachable:
                key = (task.agent_id, task.role)
                used[key] = used.get(key, Resources()) + task.resources
        for agent in self.agents.reachable():
            for ex in agent.executors.values():
                if ex.framework_id == framework_id and not ex.resources.is_empty():
                    key = (agent.id, ex.role)
                    used[key] = used.get(key, Resources()) + ex.resources
        return tuple(AllocationEntry(framework_id, a, r, res) for (a, r), res in used.items())

    def used(self, framework_id: str) -> Resources:
        total = Resources()
        for entry in self.used_entries(framework_id):
            total = total + entry.resources
        return total
