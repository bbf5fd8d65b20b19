"""Decline filters, suppress and revive, inactive frameworks."""

from __future__ import annotations

from actors.allocator import Allocator, FilterTable
from messages import Resources

R = Resources.parse
AGENT = "cpus:4;mem:2048"


def one_agent(*frameworks: str, interval: float = 1.0) -> Allocator:
    a = Allocator(allocation_interval=interval, seed=0)
    a.add_agent("s1", R(AGENT))
    for framework_id in frameworks:
        a.add_framework(framework_id, roles=["*"])
    return a


def decline(a: Allocator, now: float, refuse_seconds: float = 5.0) -> str:
    [x] = a.allocate(now=now)
    a.recover(x.framework_id, x.agent_id, x.role, x.resources, refuse_seconds, now=now)
    return x.framework_id


def test_declined_offer_is_not_reoffered_before_filter_expires():
    a = one_agent("f1")
    decline(a, now=0.0, refuse_seconds=5.0)
    assert a.allocate(now=4.9) == []
    assert [x.framework_id for x in a.allocate(now=5.0)] == ["f1"]


def test_filter_lasts_at_least_allocation_interval():
    a = one_agent("f1", interval=2.0)
    decline(a, now=0.0, refuse_seconds=0.5)
    assert a.allocate(now=1.0) == []  # a run triggered early, before the next batch
    assert len(a.allocate(now=2.0)) == 1


def test_declined_offer_goes_to_the_next_framework():
    a = one_agent("f1", "f2")
    assert decline(a, now=0.0) == "f1"
    assert [x.framework_id for x in a.allocate(now=1.0)] == ["f2"]


def test_filter_is_per_agent():
    a = one_agent("f1")
    decline(a, now=0.0)
    a.add_agent("s2", R(AGENT))
    assert [x.agent_id for x in a.allocate(now=1.0)] == ["s2"]


def test_filter_is_per_role():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["web"])
    decline(a, now=0.0)
    a.add_framework("f2", roles=["db"])  # f1 is in web only; db is a different role
    assert [(x.framework_id, x.role) for x in a.allocate(now=1.0)] == [("f2", "db")]


def test_filter_does_not_cover_more_than_was_declined():
    a = one_agent("f1", "f2")
    [x] = a.allocate(now=0.0)  # f1 holds the whole agent
    a.recover("f1", "s1", "*", R("cpus:1;mem:512"), refuse_seconds=60.0, now=0.0)
    a.recover("f2", "s1", "*", R("cpus:1;mem:512"), refuse_seconds=60.0, now=0.0)  # f2 too
    assert a.allocate(now=1.0) == []  # cpus:1;mem:512 is filtered for both
    a.recover("f1", "s1", "*", R("cpus:3;mem:1536"), now=2.0)  # a task ends: more is free
    # The whole agent is more than either declined: f2 (fewer allocations so far) gets it.
    assert [(x.framework_id, str(x.resources)) for x in a.allocate(now=2.0)] == [("f2", AGENT)]


def test_newer_decline_replaces_the_filter():
    a = one_agent("f1")
    decline(a, now=0.0, refuse_seconds=100.0)
    a.revive("f1")
    decline(a, now=1.0, refuse_seconds=2.0)
    assert len(a.allocate(now=3.0)) == 1


def test_revive_clears_filters():
    a = one_agent("f1")
    decline(a, now=0.0, refuse_seconds=1000.0)
    a.revive("f1")
    assert [x.framework_id for x in a.allocate(now=1.0)] == ["f1"]


def test_revive_clears_only_the_named_roles():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048;cpus(web):1;mem(web):64"))
    a.add_framework("f1", roles=["web", "db"])
    for x in a.allocate(now=0.0):
        a.recover(x.framework_id, x.agent_id, x.role, x.resources, refuse_seconds=100, now=0.0)
    a.revive("f1", roles=["web"])
    assert [x.role for x in a.allocate(now=1.0)] == ["web"]


def test_suppressed_framework_gets_no_offers():
    a = one_agent("f1")
    a.suppress("f1")
    assert a.allocate(now=0.0) == []


def test_suppressed_framework_lets_the_next_framework_have_the_offer():
    a = one_agent("f1", "f2")
    a.suppress("f1")
    assert [x.framework_id for x in a.allocate(now=0.0)] == ["f2"]


def test_suppress_applies_only_to_the_named_roles():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048;cpus(web):1;mem(web):64"))
    a.add_framework("f1", roles=["web", "db"])
    a.suppress("f1", roles=["db"])
    assert [x.role for x in a.allocate(now=0.0)] == ["web"]


def test_framework_added_suppressed_gets_no_offers_for_that_role():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["*"], suppressed_roles=["*"])
    assert a.allocate(now=0.0) == []


def test_revive_resumes_offers_after_suppress():
    a = one_agent("f1")
    a.suppress("f1")
    a.allocate(now=0.0)
    a.revive("f1")
    assert len(a.allocate(now=0.1)) == 1


def test_inactive_framework_gets_no_offers():
    a = one_agent()
    a.add_framework("f1", roles=["*"], active=False)
    assert a.allocate(now=0.0) == []
    a.activate_framework("f1")
    assert len(a.allocate(now=0.1)) == 1


def test_deactivated_framework_keeps_its_allocations():
    a = one_agent("f1", "f2")
    [x] = a.allocate(now=0.0)
    a.deactivate_framework(x.framework_id)
    assert a.allocation(x.framework_id) == {"s1": {"*": R(AGENT)}}
    assert a.allocate(now=1.0) == []


def test_agent_where_all_were_filtered_is_offered_to_a_newcomer():
    a = one_agent("f1", "f2")
    decline(a, now=0.0, refuse_seconds=100.0)
    decline(a, now=1.0, refuse_seconds=100.0)
    assert a.allocate(now=2.0) == [] and a.allocate(now=3.0) == []
    a.add_framework("f3", roles=["*"])
    assert [x.framework_id for x in a.allocate(now=4.0)] == ["f3"]


def test_agent_where_all_were_filtered_is_reoffered_when_the_first_filter_expires():
    a = one_agent("f1", "f2")
    decline(a, now=0.0, refuse_seconds=10.0)  # f1 until 10
    decline(a, now=1.0, refuse_seconds=20.0)  # f2 until 21
    assert a.allocate(now=2.0) == [] and a.allocate(now=9.0) == []
    assert [x.framework_id for x in a.allocate(now=10.0)] == ["f1"]


def test_a_narrower_decline_replaces_a_filter_on_a_fully_filtered_agent():
    a = one_agent("f1", "f2")
    decline(a, now=0.0, refuse_seconds=100.0)
    decline(a, now=1.0, refuse_seconds=100.0)
    assert a.allocate(now=2.0) == []  # both filtered: the agent is skipped from now on
    a.recover("f1", "s1", "*", R("cpus:1"), refuse_seconds=100.0, now=2.0)  # covers less
    assert [x.framework_id for x in a.allocate(now=3.0)] == ["f1"]


def test_filters_per_role_counts_live_filters():
    a = Allocator(seed=0)
    for i in range(3):
        a.add_agent(f"s{i}", R(AGENT))
    a.add_framework("f1", roles=["web"])
    for x in a.allocate(now=0.0):
        seconds = 5.0 if x.agent_id == "s0" else 50.0
        a.recover(x.framework_id, x.agent_id, x.role, x.resources, seconds, now=0.0)
    assert a.filters_per_role() == {"web": 3}
    assert a.filters_per_role(now=5.0) == {"web": 2}


def test_filter_table_drops_removed_filters_from_its_heap():
    table = FilterTable()
    for i in range(1000):
        f = table.add("f1", "*", f"s{i}", R("cpus:1"), expires=float("inf"))
        table.remove(f)
    assert len(table) == 0 and len(table._heap) <= 130
