"""Offers from allocations: batching, decline, rescind, timeout; revive and suppress."""

from __future__ import annotations

from actors.master import MasterConfig
from messages import (
    Decline,
    Filters,
    FrameworkDeactivated,
    OffersRevived,
    OffersSuppressed,
    RescindResourceOffer,
    ResourceOffers,
    Resources,
    ResourcesRecovered,
    Revive,
    Suppress,
    UnregisterAgent,
)
from tests.unit.master.fakes import Cluster


def test_allocations_become_one_offer_batch_per_framework(cluster):
    f1 = cluster.framework("f1")
    f2 = cluster.framework("f2")
    cluster.agent("a1", "cpus:4;mem:4096", attributes={"rack": "r1"})
    cluster.agent("a2", "cpus:2;mem:1024")
    cluster.allocate(("f1", "a1", "cpus:4;mem:4096"), ("f2", "a2", "cpus:2"), ("f1", "a2", "mem:1024"))
    (batch,) = f1.got(ResourceOffers)
    assert [(o.agent_id, str(o.resources)) for o in batch.offers] == [("a1", "cpus:4;mem:4096"), ("a2", "mem:1024")]
    first = batch.offers[0]
    assert (first.hostname, first.attributes, first.role, first.framework_id) == ("a1.test", {"rack": "r1"}, "*", "f1")
    assert len(f2.got(ResourceOffers)) == 1
    assert len({o.offer_id for o in f1.offers() + f2.offers()}) == 3
    assert cluster.state()["metrics"]["master/outstanding_offers"] == 3


def test_allocation_for_an_inactive_framework_goes_back_at_once(cluster):
    fw = cluster.framework("f1", failover_timeout=100)
    cluster.agent("a1")
    fw.alive = False
    cluster.advance(15)
    cluster.allocate(("f1", "a1", "cpus:1"))
    assert fw.got(ResourceOffers) == []
    assert cluster.allocator_got(ResourcesRecovered)[-1].resources == Resources.parse("cpus:1")


def test_allocation_for_unknown_agent_or_framework_is_dropped(cluster):
    fw = cluster.framework("f1")
    cluster.agent("a1")
    cluster.allocate(("f1", "a9", "cpus:1"), ("f9", "a1", "cpus:1"))
    assert fw.got(ResourceOffers) == [] and cluster.allocator_got(ResourcesRecovered) == []


def test_allocations_from_anyone_but_the_allocator_are_ignored(cluster):
    from messages import AllocationEntry, ResourcesAllocated

    fw = cluster.framework("f1")
    cluster.agent("a1")
    entry = AllocationEntry("f1", "a1", "*", Resources.parse("cpus:1"))
    cluster.send("framework.f1", ResourcesAllocated((entry,)))
    cluster.settle()
    assert fw.got(ResourceOffers) == []


def test_decline_returns_the_offer_with_its_filter(cluster):
    fw = cluster.framework("f1")
    cluster.agent("a1")
    offer = cluster.offer("f1", "a1", "cpus:4")
    fw.send(Decline("f1", (offer.offer_id, "unknown"), Filters(refuse_seconds=42)))
    assert cluster.allocator_got(ResourcesRecovered) == [ResourcesRecovered("f1", "a1", "*", offer.resources, 42.0)]
    state = cluster.state()
    assert state["offers"] == [] and state["metrics"]["master/invalid_declines"] == 1


def test_decline_of_another_frameworks_offer_changes_nothing(cluster):
    cluster.framework("f1")
    f2 = cluster.framework("f2")
    cluster.agent("a1")
    offer = cluster.offer("f1", "a1", "cpus:4")
    f2.send(Decline("f2", (offer.offer_id,)))
    assert cluster.allocator_got(ResourcesRecovered) == []
    assert len(cluster.state()["offers"]) == 1


def test_offers_are_rescinded_when_their_agent_leaves(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    offer = cluster.offer("f1", "a1", "cpus:4")
    agent.send(UnregisterAgent("a1"))
    assert fw.last(RescindResourceOffer).offer_id == offer.offer_id
    assert cluster.allocator_got(ResourcesRecovered) == []  # the allocator drops the agent


def test_offers_are_rescinded_when_the_framework_disconnects(cluster):
    fw = cluster.framework("f1", failover_timeout=100)
    cluster.agent("a1")
    offer = cluster.offer("f1", "a1", "cpus:4")
    fw.alive = False
    cluster.advance(15)
    assert cluster.allocator_got(FrameworkDeactivated)
    assert fw.last(RescindResourceOffer).offer_id == offer.offer_id
    assert cluster.allocator_got(ResourcesRecovered)[-1].resources == offer.resources


def test_offers_do_not_time_out_by_default(cluster):
    fw = cluster.framework("f1")
    cluster.agent("a1")
    cluster.offer("f1", "a1", "cpus:4")
    cluster.advance(1800, step=10)
    assert fw.got(RescindResourceOffer) == []


def test_offer_timeout_rescinds_and_recovers_the_offer(transport, clock):
    cluster = Cluster(transport, clock, MasterConfig(master_id="m1", offer_timeout=30.0))
    try:
        fw = cluster.framework("f1")
        cluster.agent("a1")
        offer = cluster.offer("f1", "a1", "cpus:4")
        cluster.advance(25)
        assert fw.got(RescindResourceOffer) == []
        cluster.advance(5)
        assert fw.last(RescindResourceOffer).offer_id == offer.offer_id
        assert cluster.allocator_got(ResourcesRecovered) == [ResourcesRecovered("f1", "a1", "*", offer.resources)]
        assert cluster.state()["offers"] == []
    finally:
        cluster.stop()


def test_everything_the_master_sends_carries_its_leader_epoch(transport, clock):
    cluster = Cluster(transport, clock, MasterConfig(master_id="m1", epoch=1764000000123))
    try:
        fw = cluster.framework("f1")
        agent = cluster.agent("a1")
        cluster.offer("f1", "a1", "cpus:4")
        sent = fw.recorder.envelopes + agent.recorder.envelopes
        assert sent and {e.epoch for e in sent} == {1764000000123}
    finally:
        cluster.stop()


def test_declined_offer_does_not_time_out_later(transport, clock):
    cluster = Cluster(transport, clock, MasterConfig(master_id="m1", offer_timeout=10.0))
    try:
        fw = cluster.framework("f1")
        cluster.agent("a1")
        offer = cluster.offer("f1", "a1", "cpus:4")
        fw.send(Decline("f1", (offer.offer_id,)))
        cluster.advance(20)
        assert fw.got(RescindResourceOffer) == []
        assert len(cluster.allocator_got(ResourcesRecovered)) == 1
    finally:
        cluster.stop()


def test_revive_and_suppress_pass_to_the_allocator(cluster):
    fw = cluster.framework("f1", roles=("a", "b"))
    fw.send(Revive("f1"))
    fw.send(Suppress("f1", ("b",)))
    fw.send(Revive("f1", ("a", "zzz")))  # a role it is not in is left out
    fw.send(Suppress("f1", ("zzz",)))  # nothing left: nothing sent
    assert cluster.allocator_got(OffersRevived) == [OffersRevived("f1", ()), OffersRevived("f1", ("a",))]
    assert cluster.allocator_got(OffersSuppressed) == [OffersSuppressed("f1", ("b",))]
    assert cluster.state()["metrics"]["master/invalid_role_requests"] == 2
