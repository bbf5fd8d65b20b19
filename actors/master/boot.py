"""Starting the master together with its allocator.

>>> from actors.runtime import MemoryTransport, VirtualClock
>>> master, allocator = start_master(MemoryTransport(VirtualClock()), MasterConfig(master_id="m1"))
>>> stop_master(master, allocator)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pykka

if TYPE_CHECKING:
    from actors.master.acls import ACLs
    from actors.master.snapshot import SnapshotPublisher

from actors.master.actor import Master
from actors.master.config import MasterConfig
from actors.registry import Registry
from actors.runtime import ActorContext, Transport


def start_master(
    transport: Transport,
    config: MasterConfig | None = None,
    context: ActorContext | None = None,
    *,
    seed: int | None = 0,
    registry: Registry | None = None,
    deposed: Callable[[], bool] | None = None,
    acls: "ACLs | None" = None,
    snapshots: "SnapshotPublisher | None" = None,
) -> tuple[pykka.ActorRef, pykka.ActorRef]:
    """Start the allocator (address `config.allocator_address`) and then the master
    (`config.address`) on `transport`; returns (master_ref, allocator_ref). The master
    starts from `registry` (default: an empty one in memory); once `deposed()` says
    it lost the leader lock, it handles nothing more. `snapshots`: the publisher the
    master fills for the HTTP API (default: its own, `master.proxy().snapshots`).
    The allocator starts first so that the master's first messages find it listening."""
    from actors.allocator.actor import AllocatorActor

    config = config or MasterConfig()
    # Its own context (same clock): the two actors' ids and randomness stay independent.
    clock = context.clock if context is not None else transport.clock
    allocator = AllocatorActor.start(
        config.allocator_address,
        transport,
        ActorContext(clock=clock, seed=seed),
        master=config.address,
        allocation_interval=config.allocation_interval,
        seed=seed,
        explain=config.explain_allocations,
        epoch=config.epoch,
    )
    try:
        master = Master.start(transport, config, context, registry, deposed, acls=acls, snapshots=snapshots)
    except Exception:
        allocator.stop()
        raise
    return master, allocator


def stop_master(master: pykka.ActorRef, allocator: pykka.ActorRef) -> None:
    """Stop both (the master first, so it sends nothing more to the allocator)."""
    master.stop()
    allocator.stop()
