"""What the allocator keeps per agent, framework and role (plain records, no policy)."""

from __future__ import annotations

from typing import Mapping

from actors.allocator.quantities import MinAllocatable, Quantities, quantities
from actors.allocator.sorter import Sorter
from messages import Resources

UNRESERVED = "*"
EMPTY = Resources()

# (offer, its quantities, whether it meets the minimum allocatable)
OfferEntry = tuple[Resources, Quantities, bool]


class AgentState:
    __slots__ = (
        "id",
        "hostname",
        "attributes",
        "total",
        "total_amounts",
        "available",
        "reserved_roles",
        "allocated",
        "version",
        "offers",
        "idle_offers",
        "blocked",
        "overcommitted",
    )

    def __init__(
        self, agent_id: str, total: Resources, hostname: str, attributes: Mapping[str, str]
    ) -> None:
        self.id = agent_id
        self.hostname = hostname
        self.attributes = dict(attributes)
        self.total = total
        self.total_amounts = quantities(total)
        self.available = total  # total minus everything allocated
        self.reserved_roles = frozenset(total.roles())
        # framework -> role -> resources held (until recovered)
        self.allocated: dict[str, dict[str, Resources]] = {}
        # Bumped whenever `available` grows, which can make filters stop covering it.
        self.version = 0
        # role (or "*" for the unreserved part) -> OfferEntry; replaced when `available`
        # changes. `idle_offers` is the same for an agent with nothing allocated, kept
        # until its total changes: an idle agent's offers are computed once, not per run.
        self.idle_offers: dict[str, OfferEntry] = {}
        self.offers: dict[str, OfferEntry] | None = self.idle_offers
        # role -> (version, role epoch, until): every eligible framework was filtered
        self.blocked: dict[str, tuple[int, int, float]] = {}
        # The total shrank under what is allocated (an operator's reservation took what an
        # allocation on its way to the master held): `available` is recomputed from the
        # total on every give-back until the allocations fit again.
        self.overcommitted = False

    def offer_for(self, role: str, minimum: MinAllocatable) -> OfferEntry:
        """What a framework of `role` may be offered here now (cached until it changes)."""
        key = role if role in self.reserved_roles else UNRESERVED
        offers = self.offers
        if offers is None:
            offers = self.offers = {}
        entry = offers.get(key)
        if entry is None:
            if not self.reserved_roles:
                offer = self.available
            elif key == UNRESERVED:
                offer = self.available.unreserved()
            else:
                offer = self.available.allocatable_to(key)
            amounts = self.amounts(offer)
            entry = (offer, amounts, bool(offer) and minimum.allows(amounts))
            offers[key] = entry
        return entry

    def take(self, resources: Resources) -> None:
        """`resources` were allocated: they are no longer available."""
        if resources is self.available:
            self.available = EMPTY
        else:
            self.available = self.available - resources
        self.offers = None  # made again on the next look (most agents have no leftover)

    def give_back(self, resources: Resources) -> None:
        """`resources` were recovered: available again (filters may stop covering).

        Call after removing them from `allocated`: an agent left holding nothing is
        reset to its total, which also brings back its cached idle offers.
        """
        if not self.allocated:
            self.available = self.total
            self.offers = self.idle_offers
            self.overcommitted = False
        elif self.overcommitted:
            self._recount()
            self.offers = None
        else:
            self.available = resources if not self.available else self.available + resources
            self.offers = None
        self.version += 1

    def amounts(self, resources: Resources) -> Quantities:
        """quantities(resources), free when it is this agent's total (a whole idle agent
        declined, say)."""
        return self.total_amounts if resources is self.total else quantities(resources)

    def set_total(self, total: Resources) -> None:
        self.total = total
        self.total_amounts = quantities(total)
        self.reserved_roles = frozenset(total.roles())
        self._recount()
        self.idle_offers = {}
        self.offers = self.idle_offers if not self.allocated else None
        self.blocked.clear()
        self.version += 1

    def _recount(self) -> None:
        """available = total - everything allocated (whatever does not fit is left out)."""
        held = EMPTY
        for by_role in self.allocated.values():
            for resources in by_role.values():
                held = held + resources
        self.overcommitted = not held <= self.total
        self.available = self.total - held


class FrameworkState:
    __slots__ = ("id", "roles", "subscribed", "active", "suppressed", "registered", "agents")

    def __init__(self, framework_id: str, registered: bool) -> None:
        self.id = framework_id
        # Every role whose sorter tracks it (an ordered set): the roles it subscribed to,
        # plus any role it holds resources in from before (restored running tasks).
        self.roles: dict[str, None] = {}
        self.subscribed: set[str] = set()  # the roles it may be offered
        self.active = False
        self.suppressed: set[str] = set()
        # False while it only exists because running tasks were restored for it
        self.registered = registered
        self.agents: dict[str, None] = {}  # agents where it holds something (ordered set)

    def offered_in(self, role: str) -> bool:
        """Whether the role's sorter should list it (active, subscribed, not suppressed)."""
        return self.active and role in self.subscribed and role not in self.suppressed


class RoleState:
    __slots__ = ("name", "sorter", "limit", "epoch")

    def __init__(self, name: str, sorter: Sorter, limit: Quantities | None) -> None:
        self.name = name
        self.sorter = sorter  # the frameworks of this role
        self.limit = limit  # quota limit, or None
        # Bumped when a framework may have become eligible here, or quota room grew.
        self.epoch = 0


def limit_quantities(limit: Resources | None) -> Quantities | None:
    """A quota limit as quantities; None or empty resources mean no limit."""
    if limit is None or not limit:
        return None
    return quantities(limit)
