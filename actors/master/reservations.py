"""Dynamic reservations made by an operator (RESERVE_RESOURCES / UNRESERVE_RESOURCES,
`/master/reserve`, `/master/unreserve`), as Mesos' master carries them out:

1. the call is checked: a known agent, every resource reserved for a role (not "*"), when
   the caller's principal is known the ACL `reserve_resources` for each role, or for an
   UNRESERVE `unreserve_resources` for each principal that reserved what it gives back
   (403; actors/security/reservers.py); an UNRESERVE only of the agent's dynamic
   reservations (400);
2. the resources must be free on the agent, counting what its outstanding offers hold
   but not what tasks and executors use (409 Conflict otherwise);
3. offers on the agent are rescinded, as few as needed, then the new reservations are
   written to the registry before anything changes;
4. the agent's record and the allocator's total change (`AgentUpdated`, which also takes
   the rescinded offers back in the same step): a reserved slice is offered only to
   frameworks of its role; unreserved, it is back in the pool.

The agent itself is not told (no CheckpointResources; docs/differences.md).

An allocation the allocator made before it took the new total may be on its way to the
master: for a while after a change (RESHAPED_SECONDS) the allocations on that agent are
checked against what is free there now, and one that no longer fits goes back to the
allocator instead of becoming an offer (`settled`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from actors.master.ports import Component, Ports
from actors.security import reservers
from messages import AgentUpdated, AllocationEntry, Resources
from messages.operator import ReserveResources, UnreserveResources
from messages.registry import ReservationsSet

if TYPE_CHECKING:
    from actors.master.acls import ACLs
    from actors.master.agents import AgentRecord, Agents
    from actors.master.offers import OfferBook
    from actors.master.tasks import Tasks

log = logging.getLogger(__name__)

Refusal = tuple[int, str]  # (HTTP status, why)
RESHAPED_SECONDS = 10.0  # far longer than an allocation takes to reach the master


class OperatorReservations(Component):
    def __init__(self, ports: Ports, acls: "ACLs") -> None:
        super().__init__(ports)
        self.acls = acls
        self.reshaped: dict[str, float] = {}  # agent id -> until when its allocations are checked

    def connect(self, *, agents: "Agents", offers: "OfferBook", tasks: "Tasks") -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.agents = agents
        self.offers = offers
        self.tasks = tasks

    def apply(self, msg: ReserveResources | UnreserveResources) -> Refusal | None:
        reserve = isinstance(msg, ReserveResources)
        kind = "RESERVE" if reserve else "UNRESERVE"
        agent = self.agents.get(msg.agent_id)
        if agent is None or not agent.reachable:
            return 400, f"no agent {msg.agent_id!r} is registered and reachable"
        res = msg.resources
        if res.is_empty():
            return 400, f"{kind}: no resources named"
        if res.unreserved():
            return 400, f"{kind}: {res.unreserved()} is not reserved for a role (give each resource a reservation)"
        known = self.registry.state.reservers.get(agent.id, {})
        why = msg.principal and reservers.refusal(self.acls, msg.principal, res, known, reserve=reserve)
        if why:
            self.metrics["master/operator_reservations_refused"] += 1
            return 403, why
        if reserve:
            take, give = res.flatten(), res
            reservations = agent.reservations + res
        else:
            if not res <= agent.reservations:
                return 400, f"UNRESERVE: {res} is not among agent {agent.id}'s dynamic reservations ({agent.reservations})"
            take, give = res, res.flatten()
            reservations = agent.reservations - res
        free = agent.total - self._used(agent)  # offered resources count as free
        if not take <= free:
            return 409, (f"{kind}: {take} is not available on agent {agent.id} "
                         f"(free, counting outstanding offers: {free or 'nothing'})")
        recovered = self._make_room(agent, take, free)
        now_reservers = reservers.after(reservations, known, msg.principal, res if reserve else Resources())
        self.registry.write(ReservationsSet(agent.id, reservations, reservers=now_reservers))  # before the change
        agent.reservations = reservations
        agent.convert(take, give)
        self.io.send(self.config.allocator_address, AgentUpdated(agent.id, agent.total, recovered))
        self.reshaped[agent.id] = self.io.now() + RESHAPED_SECONDS
        self.metrics[f"master/operator_{kind.lower()}s"] += 1
        log.info("master: operator %s %s on agent %s", kind, res, agent.id)
        return None

    def settled(self, allocations: tuple[AllocationEntry, ...]) -> tuple[AllocationEntry, ...]:
        """The allocations that still fit their agent; those made for its shape before
        an operator's (un)reservation go back to the allocator."""
        if not self.reshaped:
            return allocations
        now = self.io.now()
        for agent_id in [a for a, until in self.reshaped.items() if until <= now]:
            del self.reshaped[agent_id]
        free: dict[str, Resources] = {}
        kept = []
        for entry in allocations:
            agent = self.agents.get(entry.agent_id) if entry.agent_id in self.reshaped else None
            if agent is None:
                kept.append(entry)
                continue
            if entry.agent_id not in free:
                free[entry.agent_id] = agent.total - self._used(agent) - self.offers.offered_on(agent.id)
            if entry.resources <= free[entry.agent_id]:
                free[entry.agent_id] = free[entry.agent_id] - entry.resources
                kept.append(entry)
            else:
                log.info("master: an allocation of %s on %s predates its reservations; recovering it",
                         entry.resources, entry.agent_id)
                self.metrics["master/allocations_outdated"] += 1
                self.offers.recover(entry.framework_id, entry.agent_id, entry.role, entry.resources)
        return tuple(kept)

    def _used(self, agent: "AgentRecord") -> Resources:
        used = Resources()
        for task in self.tasks.on_agent(agent.id):
            used = used + task.resources
        for executor in agent.executors.values():
            used = used + executor.resources
        return used

    def _make_room(self, agent: "AgentRecord", take: Resources, free: Resources) -> tuple[AllocationEntry, ...]:
        """Rescind offers on the agent until `take` is not offered (Mesos rescinds as
        few as it can); their resources go back to the allocator with the new total."""
        unoffered = free - self.offers.offered_on(agent.id)
        recovered = []
        for offer in self.offers.on_agent(agent.id):
            if take <= unoffered:
                break
            self.offers.rescind(offer.offer_id, recover=False)
            recovered.append(AllocationEntry(offer.framework_id, offer.agent_id, offer.role, offer.resources))
            unoffered = unoffered + offer.resources
        return tuple(recovered)
