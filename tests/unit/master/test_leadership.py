"""Leadership on the master's side: exclusive mailboxes, a deposed master handles nothing,
messages of an older epoch are ignored (the AMQP side: tests/integration/test_master_failover.py)."""

from __future__ import annotations

import threading

import pytest

from actors.master import MasterConfig, start_master, stop_master
from actors.runtime import MemoryTransport, VirtualClock
from messages import AgentInfo, Envelope, PingAgent, RegisterAgent, Resources, ResourcesAllocated
from messages.master_timers import AgentPingTimer


class SubscribeSpy(MemoryTransport):
    def __init__(self) -> None:
        super().__init__(VirtualClock())
        self.exclusive: dict[str, bool] = {}

    def subscribe(self, address, on_delivery, *, durable=True, groups=(), exclusive=False):
        self.exclusive[address] = exclusive
        super().subscribe(address, on_delivery, durable=durable, groups=groups, exclusive=exclusive)


def test_the_master_and_its_allocator_consume_their_mailboxes_exclusively() -> None:
    transport = SubscribeSpy()
    master, allocator = start_master(transport, MasterConfig(master_id="m1", epoch=5))
    try:
        assert transport.exclusive == {"allocator": True, "master": True}
        with pytest.raises(ValueError, match="already has a consumer"):
            transport.subscribe("master", lambda d: None, exclusive=True)
    finally:
        stop_master(master, allocator)


def test_a_deposed_master_handles_nothing(transport) -> None:
    deposed = threading.Event()
    master, allocator = start_master(transport, MasterConfig(master_id="m1", epoch=5), deposed=deposed.is_set)
    try:
        deposed.set()
        info = AgentInfo(agent_id="a1", hostname="h1", resources=Resources.parse("cpus:1"))
        transport.publish(Envelope(id="e1", sender="agent.a1", target="master", body=RegisterAgent(info)))
        transport.settle()
        state = master.proxy().state().get()
        assert state["agents"] == [] and state["metrics"]["master/messages_after_deposed"] == 1
    finally:
        stop_master(master, allocator)


def test_messages_of_an_older_epoch_are_ignored_by_the_master_and_the_allocator(transport) -> None:
    master, allocator = start_master(transport, MasterConfig(master_id="m1", epoch=5))
    try:
        # A deposed master's own timer, and its allocator's result, still in flight.
        transport.publish(Envelope(id="t1", sender="master", target="master", body=AgentPingTimer("a1", 0), epoch=4))
        transport.publish(Envelope(id="r1", sender="allocator", target="master", body=ResourcesAllocated(()), epoch=4))
        transport.publish(Envelope(id="p1", sender="master", target="allocator", body=PingAgent(), epoch=4))
        transport.settle()
        metrics = master.proxy().state().get()["metrics"]
        assert master.proxy().counters.get()["stale_leader"] == 1
        assert metrics["master/allocations_from_strangers"] == 1
        assert allocator.proxy().counters.get()["stale_leader"] == 1
    finally:
        stop_master(master, allocator)
