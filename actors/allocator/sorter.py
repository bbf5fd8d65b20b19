"""Sorters: the fairness policy, behind the small interface the allocation loop uses.

>>> s = DRFSorter()
>>> s.update_total({"cpus": 10_000, "mem": 8_192_000})   # thousandths: 10 cpus, 8 GB
>>> for name in ("b", "a", "c"):
...     s.add(name)
>>> s.allocated("a", {"cpus": 2_000})                     # a: 20% of cpus
>>> s.allocated("b", {"mem": 4_096_000})                  # b: 50% of mem
>>> s.sort()
['c', 'a', 'b']
>>> s.update_weight("b", 4.0)                             # b: 50% / 4 = 12.5%
>>> s.sort()
['c', 'b', 'a']

Quantities are plain dicts of scalar name -> integer thousandths (the fixed point of
`messages.Resources`), so a sorter never does resource arithmetic, only integer sums.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left
from typing import Mapping, Sequence

Quantities = Mapping[str, int]


class Sorter(ABC):
    """Orders clients (roles, or the frameworks of one role) for the allocation loop.

    Mesos' verbs: add, remove, activate, deactivate, update_weight, allocated,
    unallocated, sort. Only active clients appear in `sort()`.
    """

    @abstractmethod
    def add(self, client: str, weight: float = 1.0) -> None:
        """Start tracking `client` (active, nothing allocated)."""

    @abstractmethod
    def remove(self, client: str) -> None:
        """Forget `client` and whatever it was allocated."""

    @abstractmethod
    def activate(self, client: str) -> None:
        """Include `client` in `sort()` again."""

    @abstractmethod
    def deactivate(self, client: str) -> None:
        """Leave `client` out of `sort()`; its allocation still counts."""

    @abstractmethod
    def update_weight(self, client: str, weight: float) -> None: ...

    @abstractmethod
    def update_total(self, total: Quantities) -> None:
        """The cluster total that shares are measured against."""

    @abstractmethod
    def allocated(self, client: str, quantities: Quantities) -> None:
        """`client` received `quantities`; also counts one allocation for tie breaks."""

    @abstractmethod
    def unallocated(self, client: str, quantities: Quantities) -> None:
        """`client` gave back `quantities` (the allocation count never goes down)."""

    @abstractmethod
    def sort(self) -> Sequence[str]:
        """Active clients, most deserving first.

        May return an internal list: do not mutate it, and stop iterating it once you
        call `allocated()` or `unallocated()`.
        """

    @abstractmethod
    def allocation(self, client: str) -> Quantities: ...

    @abstractmethod
    def share(self, client: str) -> float: ...

    @abstractmethod
    def __contains__(self, client: object) -> bool: ...

    @abstractmethod
    def __len__(self) -> int: ...


class _Client:
    __slots__ = ("name", "weight", "alloc", "count", "active", "key", "dominant")

    def __init__(self, name: str, weight: float) -> None:
        self.name = name
        self.weight = weight
        self.alloc: dict[str, int] = {}
        self.count = 0  # allocations received; the first tie break
        self.active = True
        self.key: tuple[float, int, str] = (0.0, 0, name)
        self.dominant = 0.0  # unweighted dominant share (valid unless the sorter is stale)


class DRFSorter(Sorter):
    """Dominant Resource Fairness: order by weighted dominant share, then count, then name.

    The sorted order is kept incrementally: a change to one client moves that client
    with two bisections (O(log n) compares plus a memmove), instead of re-sorting all.
    A new cluster total re-sorts everything once, lazily, at the next `sort()`.
    """

    def __init__(self) -> None:
        self._clients: dict[str, _Client] = {}
        self._inverse: dict[str, float] = {}  # name -> 1 / cluster total
        self._keys: list[tuple[float, int, str]] = []  # active clients, sorted
        self._order: list[str] = []  # the names of `_keys`, same order
        self._stale = False  # every key needs recomputing (the total changed)

    # --- membership -------------------------------------------------------------------

    def add(self, client: str, weight: float = 1.0) -> None:
        if client in self._clients:
            raise ValueError(f"sorter already has client {client!r}")
        c = _Client(client, _check_weight(weight))
        self._clients[client] = c
        self._insert(c)

    def remove(self, client: str) -> None:
        c = self._clients.pop(client)
        if c.active:
            self._delete(c)

    def activate(self, client: str) -> None:
        c = self._clients[client]
        if not c.active:
            c.active = True
            self._insert(c)

    def deactivate(self, client: str) -> None:
        c = self._clients[client]
        if c.active:
            self._delete(c)
            c.active = False

    def update_weight(self, client: str, weight: float) -> None:
        c = self._clients[client]
        c.weight = _check_weight(weight)
        if c.active and not self._stale:
            self._move(c, (c.dominant / c.weight, c.count, c.name))

    def update_total(self, total: Quantities) -> None:
        self._inverse = {name: 1.0 / amount for name, amount in total.items() if amount > 0}
        self._stale = True

    # --- allocations ------------------------------------------------------------------

    def allocated(self, client: str, quantities: Quantities) -> None:
        # The hot path of every allocation run. A share only grows here, so the new
        # dominant share is the old one or the share of a name just added to.
        c = self._clients[client]
        alloc = c.alloc
        inverse = self._inverse
        dominant = c.dominant
        for name, amount in quantities.items():
            amount += alloc.get(name, 0)
            alloc[name] = amount
            ratio = inverse.get(name)
            if ratio is not None:
                ratio *= amount
                if ratio > dominant:
                    dominant = ratio
        c.dominant = dominant
        c.count += 1
        if c.active and not self._stale:
            self._move(c, (dominant / c.weight, c.count, c.name))

    def unallocated(self, client: str, quantities: Quantities) -> None:
        c = self._clients[client]
        alloc = c.alloc
        for name, amount in quantities.items():
            left = alloc.get(name, 0) - amount
            if left > 0:
                alloc[name] = left
            else:
                alloc.pop(name, None)
        c.dominant = self._dominant(c)
        if c.active and not self._stale:
            self._move(c, (c.dominant / c.weight, c.count, c.name))

    def allocation(self, client: str) -> Quantities:
        return self._clients[client].alloc

    def count(self, client: str) -> int:
        """How many allocations `client` has received so far."""
        return self._clients[client].count

    def share(self, client: str) -> float:
        c = self._clients[client]
        return self._dominant(c) / c.weight

    def sort(self) -> list[str]:
        if self._stale:
            self._resort()
        return self._order

    def __contains__(self, client: object) -> bool:
        return client in self._clients

    def __len__(self) -> int:
        return len(self._clients)

    # --- ordering ---------------------------------------------------------------------

    def _dominant(self, c: _Client) -> float:
        """The largest fraction of the cluster total that the client holds of anything."""
        inverse = self._inverse
        best = 0.0
        for name, amount in c.alloc.items():
            ratio = inverse.get(name)
            if ratio is not None:
                ratio *= amount
                if ratio > best:
                    best = ratio
        return best

    def _insert(self, c: _Client) -> None:
        if self._stale:
            return
        c.dominant = self._dominant(c)
        c.key = key = (c.dominant / c.weight, c.count, c.name)
        i = bisect_left(self._keys, key)
        self._keys.insert(i, key)
        self._order.insert(i, c.name)

    def _delete(self, c: _Client) -> None:
        if self._stale:
            # Keys are out of date, so bisecting is unsafe; the next sort rebuilds.
            return
        i = bisect_left(self._keys, c.key)
        del self._keys[i]
        del self._order[i]

    def _move(self, c: _Client, new: tuple[float, int, str]) -> None:
        """Move an active client from its current key to `new`."""
        old = c.key
        c.key = new
        keys = self._keys
        i = bisect_left(keys, old)
        j = bisect_left(keys, new, i) if new > old else bisect_left(keys, new, 0, i)
        if j == i or j == i + 1:  # same slot: no shifting
            keys[i] = new
            return
        order = self._order
        del keys[i]
        del order[i]
        if j > i:
            j -= 1
        keys.insert(j, new)
        order.insert(j, c.name)

    def _resort(self) -> None:
        active = [c for c in self._clients.values() if c.active]
        for c in active:
            c.dominant = self._dominant(c)
            c.key = (c.dominant / c.weight, c.count, c.name)
        active.sort(key=lambda c: c.key)
        self._keys = [c.key for c in active]
        self._order = [c.name for c in active]
        self._stale = False


def _check_weight(weight: float) -> float:
    weight = float(weight)
    if not weight > 0.0 or weight == float("inf"):
        raise ValueError(f"weight must be a positive number, not {weight!r}")
    return weight
