"""Scalar quantities in fixed point, and the minimum-allocatable test.

>>> from messages import Resources
>>> quantities(Resources.parse("cpus:1.5;mem:64;cpus(web):1;ports:[1-2]"))
{'cpus': 2500, 'mem': 64000}
>>> dominant_share({"cpus": 2_000, "mem": 512_000}, {"cpus": 8_000, "mem": 1_024_000})
0.5
>>> MinAllocatable.default().allows({"mem": 32_000})
True
>>> MinAllocatable.default().allows({"cpus": 5, "mem": 31_999})
False

A quantity is a dict of scalar name -> integer thousandths, summed over roles: what the
sorters and quota count. The allocation loop computes one per offer, not per comparison.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from messages import Resources

Quantities = dict[str, int]


def quantities(resources: Resources) -> Quantities:
    """The scalar amounts of `resources` in thousandths, summed over roles."""
    return dict(resources.scalar_items())


def add_into(target: dict[str, int], amounts: Mapping[str, int]) -> None:
    for name, amount in amounts.items():
        target[name] = target.get(name, 0) + amount


def subtract_from(target: dict[str, int], amounts: Mapping[str, int]) -> None:
    """Take `amounts` away; entries that reach zero (or below) are dropped."""
    for name, amount in amounts.items():
        left = target.get(name, 0) - amount
        if left > 0:
            target[name] = left
        else:
            target.pop(name, None)


def dominant_share(amounts: Mapping[str, int], total: Mapping[str, int]) -> float:
    """The largest fraction of `total` that `amounts` holds of any one scalar."""
    return max((v / total[n] for n, v in amounts.items() if total.get(n)), default=0.0)


class MinAllocatable:
    """Offer a leftover only if it holds at least one of these alternatives.

    Mesos' `--min_allocatable_resources="cpus:0.01|mem:32"`: each alternative is a set of
    scalar minimums that must all be met; meeting any one alternative is enough. With no
    alternatives at all, anything non-empty is allocatable.
    """

    __slots__ = ("_alternatives",)

    def __init__(self, alternatives: Iterable[Resources]) -> None:
        self._alternatives = tuple(quantities(r) for r in alternatives)

    @classmethod
    def default(cls) -> "MinAllocatable":
        return cls((Resources.parse("cpus:0.01"), Resources.parse("mem:32")))

    def allows(self, amounts: Mapping[str, int]) -> bool:
        if not self._alternatives:
            return True
        for alternative in self._alternatives:
            for name, minimum in alternative.items():
                if amounts.get(name, 0) < minimum:
                    break
            else:
                return True
        return False
