"""The hierarchical DRF allocator: pure, deterministic for a seed, no I/O.

>>> from messages import Resources
>>> a = Allocator(seed=0)
>>> a.add_agent("s1", Resources.parse("cpus:4;mem:4096"))
>>> a.add_framework("f1", roles=["*"])
>>> [str(x.resources) for x in a.allocate(now=0.0)]
['cpus:4;mem:4096']
"""

from actors.allocator.allocation import Allocation
from actors.allocator.core import Allocator
from actors.allocator.explain import REASONS, Explanation, Skip
from actors.allocator.filters import Filter, FilterTable
from actors.allocator.quantities import MinAllocatable, quantities
from actors.allocator.sorter import DRFSorter, Sorter

__all__ = [
    "REASONS",
    "Allocation",
    "Allocator",
    "DRFSorter",
    "Explanation",
    "Filter",
    "FilterTable",
    "MinAllocatable",
    "Skip",
    "Sorter",
    "quantities",
]
