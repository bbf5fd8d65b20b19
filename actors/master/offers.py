"""Outstanding offers: made from the allocator's allocations, taken by Accept/Decline,
rescinded when their agent goes away, their framework disconnects, or they time out.

Every offer's resources are held by the allocator for its framework until they come back
with `ResourcesRecovered` (declined, left unused, rescinded) or the agent/framework is
removed from the allocator (which drops them wholesale).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.master.maintenance import down_machine, unavailability_of
from actors.master.ports import Component, Ports
from messages import (
    AllocationEntry,
    Offer,
    RescindResourceOffer,
    ResourceOffers,
    Resources,
    ResourcesRecovered,
    Unavailability,
)
from messages.addresses import framework_address
from messages.master_timers import OfferTimer

if TYPE_CHECKING:
    from actors.master.agents import Agents
    from actors.master.frameworks import Frameworks

log = logging.getLogger(__name__)


@dataclass
class OfferRecord:
    offer: Offer
    created_at: float
    timer: str = ""

    def as_dict(self) -> dict:
        o = self.offer
        return {
            "id": o.offer_id,
            "framework_id": o.framework_id,
            "agent_id": o.agent_id,
            "hostname": o.hostname,
            "role": o.role,
            "resources": str(o.resources),
            "created_at": self.created_at,
        }


class OfferBook(Component):
    """The outstanding offers of every framework."""

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        self._offers: dict[str, OfferRecord] = {}
        self._by_framework: dict[str, dict[str, None]] = {}
        self._by_agent: dict[str, dict[str, None]] = {}

    def connect(self, *, frameworks: "Frameworks", agents: "Agents") -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.frameworks = frameworks
        self.agents = agents

    # --- queries ----------------------------------------------------------------------

    def get(self, offer_id: str) -> Offer | None:
        record = self._offers.get(offer_id)
        return record.offer if record else None

    def of_framework(self, framework_id: str) -> list[Offer]:
        return [self._offers[o].offer for o in self._by_framework.get(framework_id, ())]

    def on_agent(self, agent_id: str) -> list[Offer]:
        return [self._offers[o].offer for o in self._by_agent.get(agent_id, ())]

    def count(self) -> int:
        return len(self._offers)

    def records(self) -> list[OfferRecord]:
        return list(self._offers.values())

    def offered_on(self, agent_id: str) -> Resources:
        total = Resources()
        for offer in self.on_agent(agent_id):
            total = total + offer.resources
        return total

    # --- making offers ----------------------------------------------------------------

    def make(self, allocations: tuple[AllocationEntry, ...]) -> None:
        """Turn allocations into offers, one ResourceOffers per framework."""
        batches: dict[str, list[Offer]] = {}
        for entry in allocations:
            offer = self._offer_for(entry)
            if offer is not None:
                batches.setdefault(entry.framework_id, []).append(offer)
        for framework_id, offers in batches.items():
            self.io.send(framework_address(framework_id), ResourceOffers(tuple(offers)))
            self.metrics["master/offers_sent"] += len(offers)

    def _offer_for(self, entry: AllocationEntry) -> Offer | None:
        framework = self.frameworks.get(entry.framework_id)
        agent = self.agents.get(entry.agent_id)
        if entry.resources.is_empty():
            return None
        if framework is None or agent is None or not agent.reachable:
            # The allocator is told (or was told) the agent/framework is gone; it drops
            # what it allocated there, so nothing needs recovering.
            log.info("master: dropping an allocation for %s on %s: gone", entry.framework_id, entry.agent_id)
            self.metrics["master/allocations_dropped"] += 1
            return None
        if not framework.active or entry.role not in framework.info.roles:
            self.recover(entry.framework_id, entry.agent_id, entry.role, entry.resources)
            self.metrics["master/allocations_dropped"] += 1
            return None
        offer = Offer(
            offer_id=self.io.new_id(),
            framework_id=entry.framework_id,
            agent_id=entry.agent_id,
            hostname=agent.info.hostname,
            resources=entry.resources,
            role=entry.role,
            attributes=dict(agent.info.attributes),
            unavailability=self._unavailability(agent.info.hostname),
        )
        record = OfferRecord(offer, created_at=self.io.now())
        if self.config.offer_timeout is not None:
            record.timer = self.io.delay(self.config.offer_timeout, OfferTimer(offer.offer_id))
        self._offers[offer.offer_id] = record
        self._by_framework.setdefault(offer.framework_id, {})[offer.offer_id] = None
        self._by_agent.setdefault(offer.agent_id, {})[offer.offer_id] = None
        return offer

    def _unavailability(self, hostname: str) -> Unavailability | None:
        """A DRAINING machine's offers say when it will be unavailable (maintenance.py)."""
        state = self.registry.state
        if not state.schedule or down_machine(state.down, hostname) is not None:
            return None
        return unavailability_of(state.schedule, hostname)

    # --- taking them back -------------------------------------------------------------

    def take(self, offer_id: str) -> Offer | None:
        """Remove an outstanding offer (accepted, declined, rescinded); None if unknown."""
        record = self._offers.pop(offer_id, None)
        if record is None:
            return None
        if record.timer:
            self.io.cancel(record.timer)
        offer = record.offer
        for index, name in ((self._by_framework, offer.framework_id), (self._by_agent, offer.agent_id)):
            ids = index.get(name)
            if ids is not None:
                ids.pop(offer_id, None)
                if not ids:
                    del index[name]
        return offer

    def rescind(self, offer_id: str, *, recover: bool = True, notify: bool = True) -> None:
        offer = self.take(offer_id)
        if offer is None:
            return
        if notify:
            self.io.send(framework_address(offer.framework_id), RescindResourceOffer(offer_id))
        if recover:
            self.recover(offer.framework_id, offer.agent_id, offer.role, offer.resources)
        self.metrics["master/offers_rescinded"] += 1

    def rescind_on_agent(self, agent_id: str) -> None:
        """The agent is gone: the allocator removes it, so nothing is recovered."""
        for offer in self.on_agent(agent_id):
            self.rescind(offer.offer_id, recover=False)

    def rescind_of_framework(self, framework_id: str, *, notify: bool = True) -> None:
        """The framework disconnected or failed over: its offers go back to the pool."""
        for offer in self.of_framework(framework_id):
            self.rescind(offer.offer_id, notify=notify)

    def drop_of_framework(self, framework_id: str) -> None:
        """The framework is removed: the allocator drops its allocations itself."""
        for offer in self.of_framework(framework_id):
            self.take(offer.offer_id)

    def on_timeout(self, offer_id: str) -> None:
        if offer_id in self._offers:
            log.info("master: offer %s timed out; rescinding it", offer_id)
            self.rescind(offer_id)

    def recover(
        self,
        framework_id: str,
        agent_id: str,
        role: str,
        resources: Resources,
        refuse_seconds: float | None = None,
    ) -> None:
        """Give resources back to the allocator (with a filter when refuse_seconds is set)."""
        if resources.is_empty():
            return
        self.io.send(
            self.config.allocator_address,
            ResourcesRecovered(framework_id, agent_id, role, resources, refuse_seconds),
        )
