"""One allocation run: the hot loop, kept apart so it can be read (and profiled) alone.

For each agent (in the order given), roles in fair order, then the role's frameworks in
fair order: the first framework not filtered there gets everything the agent still has
for that role (a coarse-grained offer); the next role gets what is left.

Speed matters here (tens of thousands of agents per run), hence the shape:
- an agent with nothing available is skipped at once;
- an agent's offer for a role, its quantities and the minimum-allocatable verdict are
  cached on the agent until its availability changes;
- when every eligible framework of a role was filtered on an agent, the agent remembers
  it ("blocked") until its availability grows, the role gains an eligible framework or
  quota room, or the earliest of those filters expires; later runs skip it in O(1);
- the sorters keep their order incrementally, so `sort()` costs nothing per agent.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

from actors.allocator.allocation import Allocation
from actors.allocator.explain import FILTERED, NOTHING_ALLOCATABLE, QUOTA, Explanation
from actors.allocator.filters import Filter
from actors.allocator.quantities import MinAllocatable, quantities
from actors.allocator.quota import cut_to_limit
from actors.allocator.sorter import Sorter
from actors.allocator.state import AgentState, RoleState

INF = math.inf

Track = Callable[[AgentState, str, RoleState, object, Mapping[str, int]], None]


def run_cycle(
    agents: list[AgentState],
    now: float,
    role_sorter: Sorter,
    roles: Mapping[str, RoleState],
    filters_by_agent: Mapping[str, Mapping[str, Mapping[str, Filter]]],
    minimum: MinAllocatable,
    track: Track,
    explanation: Explanation | None = None,
) -> list[Allocation]:
    """Allocate across `agents` in order; `track` records each grant in the allocator."""
    result: list[Allocation] = []
    append = result.append
    explaining = explanation is not None
    for agent in agents:
        if not agent.available:
            if explaining:
                explanation.skip(NOTHING_ALLOCATABLE, None, agent_id=agent.id)
            continue
        order = role_sorter.sort()
        if len(order) > 1:
            order = list(order)  # granting re-sorts roles; keep this agent's order
        agent_filters = filters_by_agent.get(agent.id)
        for role_name in order:
            role = roles[role_name]
            candidates = role.sorter.sort()
            if not candidates:  # nobody in the role wants offers now
                continue
            if not explaining:  # (an explained run looks at everything)
                blocked = agent.blocked.get(role_name)
                if (
                    blocked is not None
                    and blocked[0] == agent.version
                    and blocked[1] == role.epoch
                    and now < blocked[2]
                ):
                    continue  # every candidate was filtered here, and still is
            offer, amounts, allowed = agent.offer_for(role_name, minimum)
            if not allowed:
                if explaining:
                    explanation.skip(NOTHING_ALLOCATABLE, role_name, agent_id=agent.id)
                continue
            if role.limit is not None:
                cut = cut_to_limit(offer, role.limit, role_sorter.allocation(role_name))
                if cut is not offer:
                    offer, amounts = cut, quantities(cut)
                    if not offer or not minimum.allows(amounts):
                        if explaining:
                            explanation.skip(QUOTA, role_name, agent_id=agent.id)
                        continue
            role_filters = None if agent_filters is None else agent_filters.get(role_name)
            chosen = None
            until = INF
            for framework_id in candidates:
                if role_filters is not None:
                    f = role_filters.get(framework_id)
                    if f is not None and (offer is f.resources or offer <= f.resources):
                        if f.expires < until:
                            until = f.expires
                        if explaining:
                            explanation.skip(
                                FILTERED, role_name, framework_id, agent.id, f.expires
                            )
                        continue
                chosen = framework_id
                break
            if chosen is None:
                agent.blocked[role_name] = (agent.version, role.epoch, until)
                continue
            track(agent, chosen, role, offer, amounts)
            append(Allocation(chosen, agent.id, role_name, offer))
            if not agent.available:
                break
    return result
