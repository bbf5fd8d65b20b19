"""The operator's writes, as the master carries them out: weights and quota (written to the
registry before they take effect, then forwarded to the allocator), agent deactivation and
draining (in the registry too: a new leader keeps an agent deactivated), dynamic
reservations (reservations.py), the maintenance schedule and machines DOWN/UP
(maintenance.py), and framework teardown. Each is answered with an `OperatorAnswer`
(with the HTTP status of a refusal); only the master's own principal (its HTTP API runs
in its process) may send them.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from actors.master.common import role_problem
from messages import (
    AllocationEntry,
    FrameworkError,
    KillTask,
    MarkAgentGone,
    OffersRevived,
    QuotaUpdated,
    Resources,
    ResourcesRecovered,
    WeightsUpdated,
)
from messages.addresses import framework_address
from messages.operator import (
    AgentMaintenance,
    OperatorAnswer,
    ReserveResources,
    StartMaintenance,
    StopMaintenance,
    TeardownFramework,
    UnreserveResources,
    UpdateMaintenanceSchedule,
)
from messages.registry import AgentActivation, QuotaSet, WeightsSet

# How long what the allocator offers on a deactivated agent is held back (by a filter on
# the framework that got it; reactivation revives those frameworks).
HOLD_SECONDS = 30 * 24 * 3600.0

if TYPE_CHECKING:
    from actors.master.actor import Master

log = logging.getLogger(__name__)


class OperatorCalls:
    def __init__(self, master: "Master") -> None:
        self.m = master
        # deactivated agent -> frameworks held off it; the agents come from the registry
        # (a new leader holds their offers back from their first registration on)
        self.inactive: dict[str, dict[str, None]] = {a: {} for a in master.registry.state.deactivated}

    def handle(self, msg: Any) -> None:
        m = self.m
        if m.sender_user != m.transport.user:
            log.warning("master: operator call %s from %r refused", type(msg).__name__, m.sender_user)
            m.metrics["master/operator_calls_refused"] += 1
            m.reply(OperatorAnswer(False, f"{m.sender_user!r} may not make operator calls"))
            return
        problem = self._apply(msg)
        m.metrics["master/operator_calls"] += 1
        status, text = problem if isinstance(problem, tuple) else (0, problem or "")
        m.reply(OperatorAnswer(problem is None, text, status))

    def _apply(self, msg: Any) -> str | tuple[int, str] | None:
        m = self.m
        if isinstance(msg, WeightsUpdated):
            problem = weights_problem(msg.weights)
            if problem:
                m.metrics["master/invalid_weights"] += 1
                return problem
            m.registry.write(WeightsSet(dict(msg.weights)))
            m.send(m.config.allocator_address, WeightsUpdated(dict(msg.weights)))
        elif isinstance(msg, QuotaUpdated):
            problem = role_problem(msg.role) or ("role '*' cannot have a quota" if msg.role == "*" else None)
            if problem:
                m.metrics["master/invalid_quotas"] += 1
                return problem
            m.registry.write(QuotaSet(msg.role, msg.limit))
            m.send(m.config.allocator_address, QuotaUpdated(msg.role, msg.limit))
        elif isinstance(msg, AgentMaintenance):
            return self._maintain(msg)
        elif isinstance(msg, (ReserveResources, UnreserveResources)):
            return m.reservations.apply(msg)
        elif isinstance(msg, UpdateMaintenanceSchedule):
            return m.maintenance.update_schedule(msg.windows)
        elif isinstance(msg, StartMaintenance):
            return m.maintenance.start(msg.machines)
        elif isinstance(msg, StopMaintenance):
            return m.maintenance.stop(msg.machines)
        elif isinstance(msg, MarkAgentGone):
            return m.agents.mark_gone(msg.agent_id)
        elif isinstance(msg, TeardownFramework):
            if m.frameworks.get(msg.framework_id) is None:
                return f"no framework {msg.framework_id!r}"
            m.send(framework_address(msg.framework_id), FrameworkError("framework removed by the operator"))
            m.frameworks.remove(msg.framework_id, "torn down by the operator")
        return None

    def _maintain(self, msg: AgentMaintenance) -> str | None:
        m = self.m
        agent = m.agents.get(msg.agent_id)
        deactivated = m.registry.state.deactivated
        if agent is None and not (msg.active and msg.agent_id in deactivated):
            return f"no agent {msg.agent_id!r}"  # (one deactivated may be reactivated before it is back)
        if msg.active:
            if msg.agent_id in deactivated:
                m.registry.write(AgentActivation(msg.agent_id, active=True))
            for framework_id in self.inactive.pop(msg.agent_id, {}):
                if m.frameworks.get(framework_id) is not None:
                    m.send(m.config.allocator_address, OffersRevived(framework_id, ()))
            return None
        current = deactivated.get(msg.agent_id)  # None: active; True: draining
        if current is None or (msg.drain and not current):
            m.registry.write(AgentActivation(msg.agent_id, active=False, drain=msg.drain))
        held = self.inactive.setdefault(msg.agent_id, {})
        for offer in m.offers.on_agent(msg.agent_id):
            m.offers.rescind(offer.offer_id, recover=False)
            self._hold(AllocationEntry(offer.framework_id, offer.agent_id, offer.role, offer.resources), held)
        if msg.drain:
            self._kill_tasks_on(msg.agent_id)
        return None

    def readmitted(self, agent_id: str) -> None:
        """An agent (re-)registered: one draining (per the registry, say after a failover)
        has the tasks it came back with killed."""
        if self.m.registry.state.deactivated.get(agent_id):
            self._kill_tasks_on(agent_id)

    def _kill_tasks_on(self, agent_id: str) -> None:
        m = self.m
        for task in m.tasks.on_agent(agent_id):
            m.updates.kill(KillTask(task.framework_id, task.task_id, task.agent_id))

    @property
    def weights(self) -> dict[str, float]:
        return self.m.registry.state.weights

    @property
    def quotas(self) -> dict[str, Resources]:
        return self.m.registry.state.quota

    def held_back(self, allocations: tuple[AllocationEntry, ...]) -> tuple[AllocationEntry, ...]:
        """The allocations to turn into offers: those on deactivated agents go back to the
        allocator, filtered for HOLD_SECONDS."""
        if not self.inactive:
            return allocations
        kept = []
        for entry in allocations:
            held = self.inactive.get(entry.agent_id)
            if held is None:
                kept.append(entry)
            else:
                self._hold(entry, held)
        return tuple(kept)

    def _hold(self, entry: AllocationEntry, held: dict[str, None]) -> None:
        held[entry.framework_id] = None
        self.m.send(self.m.config.allocator_address, ResourcesRecovered(
            entry.framework_id, entry.agent_id, entry.role, entry.resources, HOLD_SECONDS))


def weights_problem(weights: dict[str, float]) -> str | None:
    """Why these weights cannot be set (None: they can)."""
    if not weights:
        return "no roles named"
    for role, weight in weights.items():
        problem = role_problem(role)
        if problem:
            return problem
        number = isinstance(weight, (int, float)) and not isinstance(weight, bool)
        if not (number and math.isfinite(weight) and weight > 0):
            return f"the weight of {role!r} must be a positive number, not {weight!r}"
    return None
