"""An embedded cluster: master, allocator and agents in one process.

>>> from actors.cluster import LocalCluster
"""

from actors.cluster.local import LocalCluster

__all__ = ["LocalCluster"]
