"""Decline filters: "do not offer me this again for a while".

>>> from messages import Resources
>>> table = FilterTable()
>>> f = table.add("f1", "web", "s1", Resources.parse("cpus:2;mem:1024"), expires=5.0)
>>> table.get("s1", "web", "f1") is f, f.covers(Resources.parse("cpus:1;mem:512"))
(True, True)
>>> f.covers(Resources.parse("cpus:4"))       # more than was declined: offer it
False
>>> table.expire(now=5.0), table.get("s1", "web", "f1")
(1, None)

A filter is keyed by (framework, role, agent); a new decline for the same key replaces
the old filter. It is live while `now < expires` and applies to an offer only when the
offer is contained in the resources that were declined (Mesos' rule). Expiry is lazy: a
heap ordered by expiry is drained at the start of each allocation run.
"""

from __future__ import annotations

import heapq
from typing import Iterable

from messages import Resources


class Filter:
    """One live decline: `framework_id` refused `resources` of `agent_id` for `role`."""

    __slots__ = ("framework_id", "role", "agent_id", "resources", "expires", "seq")

    def __init__(
        self,
        framework_id: str,
        role: str,
        agent_id: str,
        resources: Resources,
        expires: float,
        seq: int = 0,
    ) -> None:
        self.framework_id = framework_id
        self.role = role
        self.agent_id = agent_id
        self.resources = resources
        self.expires = expires
        self.seq = seq  # its entry in the expiry heap

    def covers(self, offer: Resources) -> bool:
        """True when `offer` holds nothing beyond what was declined."""
        declined = self.resources
        return offer is declined or offer <= declined

    def __repr__(self) -> str:
        return (
            f"Filter({self.framework_id!r}, {self.role!r}, {self.agent_id!r}, "
            f"{str(self.resources)!r}, expires={self.expires})"
        )


class FilterTable:
    """Every live filter, indexed by agent (for the allocation loop) and by framework."""

    def __init__(self) -> None:
        # agent -> role -> framework -> Filter: the loop's lookup, two dict gets per check
        self.by_agent: dict[str, dict[str, dict[str, Filter]]] = {}
        # framework -> {(agent, role): None}: for revive and removal (a dict keeps order)
        self._by_framework: dict[str, dict[tuple[str, str], None]] = {}
        # (expires, seq) entries; `_live` maps seq -> Filter. Plain (float, int) tuples
        # are untracked by the cyclic GC, so a million filters do not slow collections.
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, Filter] = {}
        self._seq = 0
        self._per_role: dict[str, int] = {}

    def add(
        self, framework_id: str, role: str, agent_id: str, resources: Resources, expires: float
    ) -> Filter:
        old = self.get(agent_id, role, framework_id)
        if old is not None:
            self._drop([old])
        self._seq += 1
        f = Filter(framework_id, role, agent_id, resources, expires, self._seq)
        self.by_agent.setdefault(agent_id, {}).setdefault(role, {})[framework_id] = f
        self._by_framework.setdefault(framework_id, {})[(agent_id, role)] = None
        self._per_role[role] = self._per_role.get(role, 0) + 1
        self._live[f.seq] = f
        heapq.heappush(self._heap, (expires, f.seq))
        return f

    def get(self, agent_id: str, role: str, framework_id: str) -> Filter | None:
        roles = self.by_agent.get(agent_id)
        if roles is None:
            return None
        frameworks = roles.get(role)
        return None if frameworks is None else frameworks.get(framework_id)

    def remove(self, f: Filter) -> None:
        """Remove one filter before it expires."""
        if f.seq in self._live:
            self._drop([f])

    def _unlink(self, f: Filter) -> None:
        del self._live[f.seq]
        roles = self.by_agent[f.agent_id]
        frameworks = roles[f.role]
        del frameworks[f.framework_id]
        if not frameworks:
            del roles[f.role]
            if not roles:
                del self.by_agent[f.agent_id]
        keys = self._by_framework[f.framework_id]
        del keys[(f.agent_id, f.role)]
        if not keys:
            del self._by_framework[f.framework_id]
        left = self._per_role[f.role] - 1
        if left:
            self._per_role[f.role] = left
        else:
            del self._per_role[f.role]

    def expire(self, now: float) -> int:
        """Drop every filter with `expires <= now`; returns how many were live."""
        heap = self._heap
        live = self._live
        expired = 0
        while heap and heap[0][0] <= now:
            f = live.get(heapq.heappop(heap)[1])
            if f is not None:
                self._unlink(f)
                expired += 1
        return expired

    def clear_framework(self, framework_id: str, roles: Iterable[str] | None = None) -> int:
        """Remove the framework's filters (for `roles`, or all); returns how many."""
        keys = self._by_framework.get(framework_id)
        if not keys:
            return 0
        wanted = None if roles is None else set(roles)
        doomed = [
            self.by_agent[agent_id][role][framework_id]
            for agent_id, role in keys
            if wanted is None or role in wanted
        ]
        self._drop(doomed)
        return len(doomed)

    def clear_agent(self, agent_id: str) -> int:
        roles = self.by_agent.get(agent_id)
        if not roles:
            return 0
        doomed = [f for frameworks in roles.values() for f in frameworks.values()]
        self._drop(doomed)
        return len(doomed)

    def per_role(self) -> dict[str, int]:
        return dict(self._per_role)

    def of_framework(self, framework_id: str) -> list[Filter]:
        keys = self._by_framework.get(framework_id, {})
        return [self.by_agent[agent_id][role][framework_id] for agent_id, role in keys]

    def __len__(self) -> int:
        return len(self._live)

    def _drop(self, doomed: list[Filter]) -> None:
        for f in doomed:
            self._unlink(f)
        # Removed filters stay in the heap until they would expire; rebuild the heap when
        # they outnumber the live ones, so revive loops with long filters cannot leak.
        if len(self._heap) > 64 and len(self._heap) > 2 * len(self._live):
            self._heap = [entry for entry in self._heap if entry[1] in self._live]
            heapq.heapify(self._heap)
