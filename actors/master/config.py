"""The master's settings, checked when built.

>>> MasterConfig().ping_interval, MasterConfig().framework_timeout
(15.0, 15.0)
>>> MasterConfig(ping_interval=0)
Traceback (most recent call last):
...
ValueError: MasterConfig.ping_interval must be a positive number of seconds, not 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from messages.addresses import ALLOCATOR, MASTER


@dataclass(frozen=True)
class MasterConfig:
    """What the master and its allocator are started with (defaults as in Mesos)."""

    master_id: str = ""  # empty: a new id per incarnation (self.new_id())
    hostname: str = ""
    version: str = "0.1.0"
    address: str = MASTER
    allocator_address: str = ALLOCATOR
    # agent health: a PingAgent every ping_interval; unreachable after max_missed_pings
    ping_interval: float = 15.0
    max_missed_pings: int = 5
    # framework health: unreachable after interval * max missed heartbeats of silence
    framework_heartbeat_interval: float = 5.0
    max_missed_heartbeats: int = 3
    # rescind offers outstanding this long (None: never, as Mesos' default)
    offer_timeout: float | None = None
    # the allocator's batch interval, and whether it journals why it allocated as it did
    allocation_interval: float = 1.0
    explain_allocations: bool = False
    # how long a framework known only from an agent's re-registration (master restart)
    # waits for its scheduler before it is removed (at least its own failover_timeout)
    recovered_framework_timeout: float = 600.0
    # what `state()` keeps of the past: finished tasks are remembered (to answer
    # reconciliation) up to `max_completed_tasks` in all; the operator API shows each
    # framework's newest `max_completed_tasks_per_framework` of them (Mesos' flag and default)
    max_completed_frameworks: int = 1000
    max_completed_tasks: int = 10000
    max_completed_tasks_per_framework: int = 1000
    max_removed_agents: int = 10000
    # the leader epoch stamped on everything the master sends (`mesobus master` takes it
    # from the leader lock; 0: no election, e.g. embedded); followers ignore older epochs
    epoch: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("str",) and not isinstance(value, str):
                raise ValueError(f"MasterConfig.{f.name} must be text, not {value!r}")
        if not isinstance(self.explain_allocations, bool):
            raise ValueError(f"MasterConfig.explain_allocations must be true or false, not {self.explain_allocations!r}")
        for name in ("address", "allocator_address"):
            if not getattr(self, name):
                raise ValueError(f"MasterConfig.{name} must not be empty")
        for name in (
            "ping_interval",
            "framework_heartbeat_interval",
            "allocation_interval",
            "recovered_framework_timeout",
        ):
            _positive(name, getattr(self, name))
        if self.offer_timeout is not None:
            _positive("offer_timeout", self.offer_timeout)
        for name in (
            "max_missed_pings",
            "max_missed_heartbeats",
            "max_completed_frameworks",
            "max_completed_tasks",
            "max_completed_tasks_per_framework",
            "max_removed_agents",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MasterConfig.{name} must be a whole number >= 1, not {value!r}")
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or self.epoch < 0:
            raise ValueError(f"MasterConfig.epoch must be a whole number >= 0, not {self.epoch!r}")

    @property
    def framework_timeout(self) -> float:
        """Silence after which a framework is disconnected."""
        return self.framework_heartbeat_interval * self.max_missed_heartbeats

    @property
    def agent_timeout(self) -> float:
        """Roughly how long an agent may be silent before it is unreachable."""
        return self.ping_interval * (self.max_missed_pings + 1)


def _positive(name: str, value: object) -> None:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
    if not ok:
        raise ValueError(f"MasterConfig.{name} must be a positive number of seconds, not {value!r}")
