"""The allocator actor: when it runs, what it sends the master, and what it ignores."""

from __future__ import annotations

import itertools

import pytest

from actors.allocator.actor import AllocatorActor
from messages import (
    AgentAdded,
    AgentRemoved,
    AgentUpdated,
    AllocationEntry,
    AllocationUpdated,
    Envelope,
    FrameworkActivated,
    FrameworkAdded,
    FrameworkDeactivated,
    FrameworkRemoved,
    OffersRevived,
    OffersSuppressed,
    QuotaUpdated,
    Resources,
    ResourcesAllocated,
    ResourcesRecovered,
    WeightsUpdated,
)
from tests.unit.master.fakes import FakeActor, Recorder

_ids = itertools.count(1)
R = Resources.parse


class Bench:
    """An AllocatorActor with a recording fake master."""

    def __init__(self, transport, clock, **options) -> None:
        self.transport, self.clock = transport, clock
        self.master = Recorder()
        self._refs = [FakeActor.start("master", transport, self.master)]
        self.ref = AllocatorActor.start("allocator", transport, allocation_interval=1.0, **options)
        self._refs.append(self.ref)

    def tell(self, *bodies) -> None:
        for body in bodies:
            env = Envelope(id=f"b-{next(_ids)}", sender="master", target="allocator", body=body)
            self.transport.publish(env)
        self.transport.settle()

    def advance(self, seconds: float, step: float = 1.0) -> None:
        while seconds > 1e-9:
            dt = min(step, seconds)
            self.clock.advance(dt)
            self.transport.settle()
            seconds -= dt

    def allocations(self) -> list[tuple[str, str, str, str]]:
        return [
            (a.framework_id, a.agent_id, a.role, str(a.resources))
            for batch in self.master.got(ResourcesAllocated)
            for a in batch.allocations
        ]

    def metrics(self) -> dict:
        return self.ref.proxy().metrics().get()

    def stop(self) -> None:
        for ref in reversed(self._refs):
            ref.stop()


@pytest.fixture
def bench(transport, clock):
    b = Bench(transport, clock)
    yield b
    b.stop()


def test_new_agent_and_framework_get_allocated_without_waiting_for_the_interval(bench):
    bench.tell(AgentAdded("a1", R("cpus:4;mem:4096")), FrameworkAdded("f1", ("*",)))
    assert bench.allocations() == [("f1", "a1", "*", "cpus:4;mem:4096")]


def test_nothing_to_allocate_sends_nothing(bench):
    bench.tell(FrameworkAdded("f1", ("*",)))
    bench.advance(3)
    assert bench.master.got() == []
    assert bench.metrics()["allocator/mesos/allocation_runs"] >= 3


def test_runs_every_allocation_interval(bench):
    runs = bench.metrics()["allocator/mesos/allocation_runs"]
    bench.advance(5)
    assert bench.metrics()["allocator/mesos/allocation_runs"] == runs + 5


def test_burst_of_events_is_coalesced_into_one_run(transport, clock):
    bench = Bench(transport, clock, batch_delay=0.5)
    try:
        bench.tell(*[AgentAdded(f"a{i}", R("cpus:1;mem:64")) for i in range(5)], FrameworkAdded("f1", ("*",)))
        assert bench.metrics()["allocator/mesos/allocation_runs"] == 0
        bench.advance(0.5)
        assert bench.metrics()["allocator/mesos/allocation_runs"] == 1
        (batch,) = bench.master.got(ResourcesAllocated)
        assert len(batch.allocations) == 5 and batch.run == 1
    finally:
        bench.stop()


def test_declined_resources_come_back_after_the_filter(bench):
    bench.tell(AgentAdded("a1", R("cpus:4")), FrameworkAdded("f1", ("*",)))
    bench.master.clear()
    bench.tell(ResourcesRecovered("f1", "a1", "*", R("cpus:4"), refuse_seconds=5.0))
    bench.advance(4)
    assert bench.allocations() == []
    assert bench.metrics()["allocator/mesos/offer_filters/roles/*/active"] == 1
    bench.advance(1)
    assert bench.allocations() == [("f1", "a1", "*", "cpus:4")]


def test_recovered_without_filter_is_offered_again_at_once(bench):
    bench.tell(AgentAdded("a1", R("cpus:4")), FrameworkAdded("f1", ("*",)))
    bench.tell(ResourcesRecovered("f1", "a1", "*", R("cpus:4")))
    assert len(bench.allocations()) == 2


def test_used_resources_of_a_rejoining_agent_are_not_offered(bench):
    used = (AllocationEntry("f1", "a1", "*", R("cpus:3")),)
    bench.tell(FrameworkAdded("f1", ("*",)), AgentAdded("a1", R("cpus:4"), used=used))
    assert bench.allocations() == [("f1", "a1", "*", "cpus:1")]


def test_inactive_and_suppressed_frameworks_get_nothing_until_back(bench):
    bench.tell(FrameworkAdded("f1", ("*",), active=False), AgentAdded("a1", R("cpus:4")))
    assert bench.allocations() == []
    bench.tell(FrameworkActivated("f1"))
    assert len(bench.allocations()) == 1
    bench.tell(FrameworkAdded("f2", ("*",)), OffersSuppressed("f2"), FrameworkDeactivated("f1"))
    bench.tell(ResourcesRecovered("f1", "a1", "*", R("cpus:4")))
    assert len(bench.allocations()) == 1
    bench.tell(OffersRevived("f2"))
    assert bench.allocations()[-1][0] == "f2"


def test_removed_framework_frees_its_resources_for_others(bench):
    bench.tell(AgentAdded("a1", R("cpus:4")), FrameworkAdded("f1", ("*",)))
    bench.tell(FrameworkAdded("f2", ("*",)), FrameworkRemoved("f1"))
    assert bench.allocations()[-1] == ("f2", "a1", "*", "cpus:4")


def test_removed_agent_is_not_offered(bench):
    bench.tell(FrameworkAdded("f1", ("*",)))
    bench.tell(AgentAdded("a1", R("cpus:4")), AgentRemoved("a1"))
    bench.advance(2)
    assert all(a[1] != "a1" for a in bench.allocations()[1:])


def test_updated_agent_total_is_offered(bench):
    bench.tell(AgentAdded("a1", R("cpus:4")), FrameworkAdded("f1", ("*",)))
    bench.tell(AgentUpdated("a1", R("cpus:6")))
    assert bench.allocations()[-1] == ("f1", "a1", "*", "cpus:2")


def test_reservation_converts_what_the_framework_holds(bench):
    bench.tell(AgentAdded("a1", R("cpus:4")), FrameworkAdded("w", ("web",)))
    bench.tell(AllocationUpdated("w", "a1", "web", R("cpus:2"), R("cpus(web):2")))
    bench.tell(ResourcesRecovered("w", "a1", "web", R("cpus:2;cpus(web):2")))
    assert bench.allocations()[-1] == ("w", "a1", "web", "cpus:2;cpus(web):2")


def test_events_about_unknown_agents_and_frameworks_are_ignored_and_counted(bench, transport):
    bench.tell(
        AgentUpdated("x", R("cpus:1")),
        AgentRemoved("x"),
        FrameworkRemoved("y"),
        FrameworkActivated("y"),
        OffersRevived("y"),
        AllocationUpdated("y", "x", "*", R("cpus:1"), R("cpus(a):1")),
        WeightsUpdated({"web": -1.0}),
        ResourcesRecovered("y", "x", "*", R("cpus:1"), refuse_seconds=float("nan")),
    )
    assert bench.metrics()["allocator/mesos/ignored_messages"] == 7
    assert transport.dead_letters == []
    bench.tell(AgentAdded("a1", R("cpus:1")), FrameworkAdded("f1", ("*",)))
    assert len(bench.allocations()) == 1


def test_agent_added_twice_is_replaced_not_doubled(bench):
    bench.tell(FrameworkAdded("f1", ("*",)), AgentAdded("a1", R("cpus:4")), AgentAdded("a1", R("cpus:2")))
    bench.tell(FrameworkRemoved("f1"), FrameworkAdded("f2", ("*",)))
    assert bench.allocations()[-1] == ("f2", "a1", "*", "cpus:2")


def test_quota_limits_what_a_role_is_offered(bench):
    bench.tell(QuotaUpdated("web", R("cpus:1")), WeightsUpdated({"web": 2.0}))
    bench.tell(AgentAdded("a1", R("cpus:4;mem:1024")), FrameworkAdded("w", ("web",)))
    assert bench.allocations()[-1][3].startswith("cpus:1;")


def test_metrics_report_runs_and_timings(bench):
    bench.tell(AgentAdded("a1", R("cpus:4")), FrameworkAdded("f1", ("*",)))
    m = bench.metrics()
    assert m["allocator/mesos/allocation_runs"] >= 1
    assert m["allocator/mesos/allocation_run_ms"] >= 0 and m["allocator/mesos/allocation_run_ms/mean"] >= 0
    assert m["allocator/mesos/allocations"] == 1
    assert m["allocator/mesos/roles/*/shares/dominant"] == 1.0


def test_bad_options_are_refused(transport):
    with pytest.raises(Exception, match="allocation_interval"):
        AllocatorActor("allocator", transport, allocation_interval=0)
