"""The allocator: agents, frameworks, roles, filters, quota and suppression, and the run.

>>> from messages import Resources
>>> a = Allocator(allocation_interval=1.0, seed=0)
>>> a.add_agent("s1", Resources.parse("cpus:2;mem:1024;cpus(web):1"), hostname="h1")
>>> a.add_framework("f1", roles=["web"])
>>> [(x.framework_id, x.role, str(x.resources)) for x in a.allocate(now=0.0)]
[('f1', 'web', 'cpus:2;mem:1024;cpus(web):1')]
>>> a.allocate(now=1.0)                       # still allocated: nothing to offer
[]
>>> a.recover("f1", "s1", "web", Resources.parse("cpus:2;mem:1024;cpus(web):1"),
...           refuse_seconds=5.0, now=1.0)   # declined: filtered until t=6
>>> a.allocate(now=2.0), len(a.allocate(now=6.0))
([], 1)

Pure and deterministic: no I/O, no threads, no clock (every call that needs the time
takes `now`), and the only randomness is the agent order, from `random.Random(seed)`.
The ordering policy lives behind `Sorter` (DRF by default); the run is in `cycle.py`.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Callable, Iterable, Mapping

from actors.allocator.allocation import Allocation
from actors.allocator.cycle import run_cycle
from actors.allocator.explain import Explanation, start_explanation
from actors.allocator.filters import FilterTable
from actors.allocator import gcpause
from actors.allocator.quantities import (
    MinAllocatable,
    add_into,
    dominant_share,
    quantities,
    subtract_from,
)
from actors.allocator.sorter import DRFSorter, Sorter
from actors.allocator.state import EMPTY, AgentState, FrameworkState, RoleState, limit_quantities
from messages import Resources

Held = Mapping[str, Mapping[str, Resources]]  # outer key -> role -> resources


class Allocator:
    """Hierarchical DRF: roles in fair order, then each role's frameworks in fair order.

    Not thread-safe: one owner (the allocator actor) calls it. Calls naming an unknown
    agent or framework raise KeyError, except `recover`, which ignores them (resources
    can come back after their agent or framework is gone).
    """

    def __init__(
        self,
        allocation_interval: float = 1.0,
        seed: int = 0,
        min_allocatable: Iterable[Resources] | None = None,
        sorter_factory: Callable[[], Sorter] = DRFSorter,
        pause_gc: bool = True,
    ) -> None:
        self.allocation_interval = float(allocation_interval)
        self._random = random.Random(seed)
        self._minimum = (
            MinAllocatable.default() if min_allocatable is None else MinAllocatable(min_allocatable)
        )
        self._new_sorter = sorter_factory
        self._pause_gc = pause_gc  # see gcpause.py: a third of a large run otherwise
        self._agents: dict[str, AgentState] = {}
        self._frameworks: dict[str, FrameworkState] = {}
        self._roles: dict[str, RoleState] = {}
        self._role_sorter = sorter_factory()
        self._weights: dict[str, float] = {}
        self._quotas: dict[str, dict[str, int]] = {}
        self._total: dict[str, int] = {}  # cluster total, thousandths
        self._total_changed = False
        self._filters = FilterTable()
        self._epochs = itertools.count(1)  # never reused, so stale caches cannot match
        self.last_explanation: Explanation | None = None
        self.runs = 0

    # --- agents -----------------------------------------------------------------------

    def add_agent(
        self,
        agent_id: str,
        total: Resources,
        hostname: str = "",
        attributes: Mapping[str, str] | None = None,
        allocated: Held | None = None,
    ) -> None:
        """Add an agent; `allocated` = {framework_id: {role: resources}} already in use."""
        if agent_id in self._agents:
            raise ValueError(f"agent {agent_id!r} is already known")
        self._agents[agent_id] = AgentState(agent_id, total, hostname, attributes or {})
        self._change_total(total, +1)
        for framework_id, by_role in (allocated or {}).items():
            for role, resources in by_role.items():
                self.restore_allocation(framework_id, agent_id, role, resources)

    def update_agent(self, agent_id: str, total: Resources) -> None:
        """The agent's total changed; what is allocated stays allocated."""
        agent = self._agents[agent_id]
        self._change_total(agent.total, -1)
        self._change_total(total, +1)
        agent.set_total(total)

    def remove_agent(self, agent_id: str) -> None:
        """Forget the agent, its allocations and its filters."""
        agent = self._agents.pop(agent_id)
        for framework_id, by_role in agent.allocated.items():
            for role, resources in by_role.items():
                self._untrack(framework_id, role, quantities(resources))
            self._frameworks[framework_id].agents.pop(agent_id, None)
        self._filters.clear_agent(agent_id)
        self._change_total(agent.total, -1)

    def has_agent(self, agent_id: str) -> bool:
        return agent_id in self._agents

    def available(self, agent_id: str) -> Resources:
        """What the agent has that is not allocated to anyone."""
        return self._agents[agent_id].available

    # --- frameworks -------------------------------------------------------------------

    def add_framework(
        self,
        framework_id: str,
        roles: Iterable[str],
        active: bool = True,
        suppressed_roles: Iterable[str] = (),
        allocated: Held | None = None,
    ) -> None:
        """Add a framework; `allocated` = {agent_id: {role: resources}} its tasks hold."""
        fw = self._frameworks.get(framework_id)
        if fw is not None and fw.registered:
            raise ValueError(f"framework {framework_id!r} is already known")
        if fw is None:
            fw = self._frameworks[framework_id] = FrameworkState(framework_id, registered=True)
        fw.registered = True
        fw.active = active
        wanted = list(dict.fromkeys(roles)) or ["*"]
        fw.subscribed = set(wanted)
        fw.suppressed = set(suppressed_roles) & fw.subscribed
        for role in wanted:
            if role not in fw.roles:
                self._join(fw, role)
        self._refresh(fw, fw.roles)
        for agent_id, by_role in (allocated or {}).items():
            for role, resources in by_role.items():
                self.restore_allocation(framework_id, agent_id, role, resources)

    def remove_framework(self, framework_id: str) -> None:
        """Forget the framework; everything it holds becomes available again."""
        fw = self._frameworks.pop(framework_id)
        for agent_id in fw.agents:
            agent = self._agents[agent_id]
            for role, resources in agent.allocated.pop(framework_id).items():
                agent.give_back(resources)
                self._untrack(framework_id, role, quantities(resources))
        self._filters.clear_framework(framework_id)
        for role in fw.roles:
            state = self._roles[role]
            state.sorter.remove(framework_id)
            if not len(state.sorter):
                self._role_sorter.remove(role)
                del self._roles[role]

    def has_framework(self, framework_id: str, include_unregistered: bool = False) -> bool:
        """Whether it was added (or, with `include_unregistered`, only holds restored
        resources, waiting for `add_framework`)."""
        fw = self._frameworks.get(framework_id)
        return fw is not None and (fw.registered or include_unregistered)

    def activate_framework(self, framework_id: str) -> None:
        fw = self._frameworks[framework_id]
        fw.active = True
        self._refresh(fw, fw.roles)

    def deactivate_framework(self, framework_id: str) -> None:
        """No offers until activated again; its allocations and filters stay."""
        fw = self._frameworks[framework_id]
        fw.active = False
        self._refresh(fw, fw.roles)

    def suppress(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Stop offers for `roles` (None or empty: all the framework's roles)."""
        fw = self._frameworks[framework_id]
        picked = self._pick_roles(fw, roles)
        fw.suppressed.update(picked)
        self._refresh(fw, picked)

    def revive(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Clear the framework's filters for `roles` (None or empty: all) and unsuppress."""
        fw = self._frameworks[framework_id]
        picked = self._pick_roles(fw, roles)
        self._filters.clear_framework(framework_id, picked)
        fw.suppressed.difference_update(picked)
        self._refresh(fw, picked)

    # --- allocations ------------------------------------------------------------------

    def restore_allocation(
        self, framework_id: str, agent_id: str, role: str, resources: Resources
    ) -> None:
        """Mark resources as already held (running tasks after a re-registration).

        The framework need not be known yet: it is then tracked, inactive, until
        `add_framework` names it.
        """
        agent = self._agents[agent_id]
        fw = self._frameworks.get(framework_id)
        if fw is None:
            fw = self._frameworks[framework_id] = FrameworkState(framework_id, registered=False)
        if role not in fw.roles:
            self._join(fw, role)
        self._track(agent, framework_id, self._roles[role], resources, quantities(resources))

    def recover(
        self,
        framework_id: str,
        agent_id: str,
        role: str,
        resources: Resources,
        refuse_seconds: float | None = None,
        now: float = 0.0,
    ) -> None:
        """Resources come back; with `refuse_seconds` (a decline) also add a filter.

        Only what the framework actually holds there is returned, so recovering twice
        cannot make an agent look bigger than it is. The filter lasts
        max(refuse_seconds, allocation_interval).
        """
        agent = self._agents.get(agent_id)
        if agent is None:
            return
        by_role = agent.allocated.get(framework_id)
        held = None if by_role is None else by_role.get(role)
        if held is not None and resources:
            if resources is held or resources == held:
                returned, left = held, EMPTY
            else:
                left = held - resources
                returned = held - left
            if returned:
                if left:
                    by_role[role] = left
                else:
                    del by_role[role]
                    if not by_role:
                        del agent.allocated[framework_id]
                        self._frameworks[framework_id].agents.pop(agent_id, None)
                agent.give_back(returned)
                self._untrack(framework_id, role, agent.amounts(returned))
        if refuse_seconds is not None and resources and framework_id in self._frameworks:
            seconds = float(refuse_seconds)
            if math.isnan(seconds):
                seconds = 0.0
            duration = max(seconds, self.allocation_interval)
            self._filters.add(framework_id, role, agent_id, resources, now + duration)
            agent.blocked.pop(role, None)  # it may replace a filter that covered more

    def update_allocation(
        self, framework_id: str, agent_id: str, role: str, old: Resources, new: Resources
    ) -> None:
        """Swap held `old` for `new` of the same quantities (RESERVE / UNRESERVE).

        The agent's total changes the same way, so a reservation outlives the task.
        """
        agent = self._agents[agent_id]
        held = agent.allocated[framework_id][role]
        if not old <= held:
            raise ValueError(f"{framework_id} does not hold {old} on {agent_id} for {role}")
        if quantities(old) != quantities(new):
            raise ValueError(f"{old} and {new} differ in amount")
        agent.allocated[framework_id][role] = held - old + new
        agent.set_total(agent.total - old + new)

    def allocation(self, framework_id: str) -> dict[str, dict[str, Resources]]:
        """{agent_id: {role: resources}} the framework holds."""
        fw = self._frameworks[framework_id]
        return {a: dict(self._agents[a].allocated[framework_id]) for a in fw.agents}

    # --- roles ------------------------------------------------------------------------

    def update_weights(self, weights: Mapping[str, float]) -> None:
        for role, weight in weights.items():
            if not float(weight) > 0.0:
                raise ValueError(f"weight of {role!r} must be positive, not {weight!r}")
        for role, weight in weights.items():
            self._weights[role] = float(weight)
            if role in self._roles:
                self._role_sorter.update_weight(role, float(weight))

    def update_quota(self, role: str, limit: Resources | None = None) -> None:
        """Set the role's quota limit; None or empty resources remove it."""
        amounts = limit_quantities(limit)
        if amounts is None:
            self._quotas.pop(role, None)
        else:
            self._quotas[role] = amounts
        state = self._roles.get(role)
        if state is not None:
            state.limit = amounts
            state.epoch = next(self._epochs)

    # --- the run ----------------------------------------------------------------------

    def allocate(self, now: float, explain: bool = False) -> list[Allocation]:
        """One batch run: offer what is available, agents in a fresh seeded order."""
        paused = gcpause.pause_gc(self._pause_gc)
        try:
            self._filters.expire(now)
            self._sync_totals()
            explanation = start_explanation(now, self._frameworks.values()) if explain else None
            agents = list(self._agents.values())
            self._random.shuffle(agents)
            result = run_cycle(
                agents,
                now,
                self._role_sorter,
                self._roles,
                self._filters.by_agent,
                self._minimum,
                self._track,
                explanation,
            )
        finally:
            gcpause.resume_gc(paused)
        self.last_explanation = explanation
        self.runs += 1
        return result

    # --- metrics and debugging --------------------------------------------------------

    def shares(self) -> dict[str, dict[str, float]]:
        """Dominant shares: roles (weighted) and frameworks (over all their roles)."""
        self._sync_totals()
        roles = {name: self._role_sorter.share(name) for name in self._roles}
        frameworks = {}
        for fw in self._frameworks.values():
            combined: dict[str, int] = {}
            for role in fw.roles:
                add_into(combined, self._roles[role].sorter.allocation(fw.id))
            frameworks[fw.id] = dominant_share(combined, self._total)
        return {"roles": roles, "frameworks": frameworks}

    def framework_roles(self) -> dict[str, tuple[str, ...]]:
        """{framework id: its roles}, for every framework known to the allocator."""
        return {fw.id: tuple(fw.roles) for fw in self._frameworks.values()}

    def filters_per_role(self, now: float | None = None) -> dict[str, int]:
        """{role: live filters}; with `now`, filters expired by then are dropped first."""
        if now is not None:
            self._filters.expire(now)
        return self._filters.per_role()

    # --- internals --------------------------------------------------------------------

    def _track(
        self,
        agent: AgentState,
        framework_id: str,
        role: RoleState,
        resources: Resources,
        amounts: Mapping[str, int],
    ) -> None:
        agent.take(resources)
        by_role = agent.allocated.get(framework_id)
        if by_role is None:
            agent.allocated[framework_id] = {role.name: resources}
            self._frameworks[framework_id].agents[agent.id] = None
        else:
            held = by_role.get(role.name)
            by_role[role.name] = resources if held is None else held + resources
        self._role_sorter.allocated(role.name, amounts)
        role.sorter.allocated(framework_id, amounts)

    def _untrack(self, framework_id: str, role: str, amounts: Mapping[str, int]) -> None:
        state = self._roles[role]
        self._role_sorter.unallocated(role, amounts)
        state.sorter.unallocated(framework_id, amounts)
        if state.limit is not None:  # quota room grew: cached "all filtered" may be wrong
            state.epoch = next(self._epochs)

    def _join(self, fw: FrameworkState, role: str) -> None:
        state = self._roles.get(role)
        if state is None:
            state = self._roles[role] = RoleState(role, self._new_sorter(), self._quotas.get(role))
            state.sorter.update_total(self._total)
            self._role_sorter.add(role, self._weights.get(role, 1.0))
        fw.roles[role] = None
        state.sorter.add(fw.id)
        self._refresh(fw, (role,))

    def _refresh(self, fw: FrameworkState, roles: Iterable[str]) -> None:
        """Put the framework in or out of each role's sort, as its state now says."""
        for role in roles:
            state = self._roles[role]
            if fw.offered_in(role):
                state.sorter.activate(fw.id)
                state.epoch = next(self._epochs)
            else:
                state.sorter.deactivate(fw.id)

    def _pick_roles(self, fw: FrameworkState, roles: Iterable[str] | None) -> list[str]:
        wanted = None if roles is None else list(roles)
        if not wanted:  # None or empty: every role of the framework, as in Mesos
            return [role for role in fw.roles if role in fw.subscribed]
        return [role for role in wanted if role in fw.subscribed]

    def _change_total(self, total: Resources, sign: int) -> None:
        amounts = quantities(total)
        if sign > 0:
            add_into(self._total, amounts)
        else:
            subtract_from(self._total, amounts)
        self._total_changed = True

    def _sync_totals(self) -> None:
        if self._total_changed:
            self._role_sorter.update_total(self._total)
            for state in self._roles.values():
                state.sorter.update_total(self._total)
            self._total_changed = False
