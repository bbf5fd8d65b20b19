"""Starting the master together with its allocator.

>>> from actors.runtime import MemoryTransport, VirtualClock
>>> master, allocator = start_master(MemoryTransport(VirtualClock()), MasterConfig(master_id="m1"))
>>> stop_master(master, allocator)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pykka

if TYPE_CHECKING:
    from actors.master.acls import ACLs

from actors.master.actor import Master
from actors.master.config import MasterConfig
from actors.runtime import ActorContext, Transport


def start_master(
    transport: Transport,
    config: MasterConfig | None = None,
    context: ActorContext | None = None,
    *,
    seed: int | None = 0,
    acls: "ACLs | None" = None,
) -> tuple[pykka.ActorRef, pykka.ActorRef]:
    """Start the allocator (address `config.allocator_address`) and then the master
    (`config.address`) on `transport`; returns (master_ref, allocator_ref).
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
    )
    try:
        master = Master.start(transport, config, context, acls=acls)
    except Exception:
        allocator.stop()
        raise
    return master, allocator


def stop_master(master: pykka.ActorRef, allocator: pykka.ActorRef) -> None:
    """Stop both (the master first, so it sends nothing more to the allocator)."""
    master.stop()
    allocator.stop()
