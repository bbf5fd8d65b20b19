"""Agents and frameworks coming and going; restored allocations; reservations."""

from __future__ import annotations

import pytest

from actors.allocator import Allocator
from messages import Resources

R = Resources.parse
AGENT = "cpus:4;mem:2048"


def test_remove_agent_drops_its_allocations_and_filters():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["*"])
    [x] = a.allocate(now=0.0)
    a.recover("f1", "s1", "*", R("cpus:1;mem:512"), refuse_seconds=100.0, now=0.0)
    a.remove_agent("s1")
    assert a.allocation("f1") == {}
    assert a.filters_per_role() == {}
    assert a.shares()["frameworks"] == {"f1": 0.0}
    a.add_agent("s1", R(AGENT))  # the same id again starts clean
    assert [str(x.resources) for x in a.allocate(now=1.0)] == [AGENT]


def test_remove_framework_returns_its_allocations():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["*"])
    a.add_framework("f2", roles=["*"])
    [x] = a.allocate(now=0.0)
    a.remove_framework(x.framework_id)
    assert a.available("s1") == R(AGENT)
    assert [y.framework_id for y in a.allocate(now=1.0)] == ["f2"]


def test_remove_last_framework_of_a_role_forgets_the_role():
    a = Allocator(seed=0)
    a.add_framework("f1", roles=["web"])
    a.remove_framework("f1")
    assert a.shares() == {"roles": {}, "frameworks": {}}


def test_update_agent_changes_what_is_offered():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["*"])
    [x] = a.allocate(now=0.0)
    a.update_agent("s1", R("cpus:6;mem:3072"))
    assert [str(y.resources) for y in a.allocate(now=1.0)] == ["cpus:2;mem:1024"]


def test_restore_allocation_marks_resources_as_held():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["*"])
    a.restore_allocation("f1", "s1", "*", R("cpus:3;mem:1024"))
    assert a.available("s1") == R("cpus:1;mem:1024")
    assert a.allocation("f1") == {"s1": {"*": R("cpus:3;mem:1024")}}


def test_add_framework_with_allocated_restores_its_running_tasks():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["web"], allocated={"s1": {"web": R("cpus:4;mem:1024")}})
    assert a.available("s1") == R("mem:1024")
    assert a.shares()["roles"] == {"web": pytest.approx(1.0)}


def test_agent_added_with_tasks_of_a_framework_not_yet_registered():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT), allocated={"f1": {"web": R("cpus:2;mem:1024")}})
    assert a.available("s1") == R("cpus:2;mem:1024")
    assert a.allocate(now=0.0) == []  # f1 is not registered, so it is offered nothing
    a.add_framework("f1", roles=["web"])
    assert a.allocation("f1") == {"s1": {"web": R("cpus:2;mem:1024")}}
    assert [str(x.resources) for x in a.allocate(now=1.0)] == ["cpus:2;mem:1024"]


def test_framework_is_not_offered_a_role_it_only_holds_old_tasks_in():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048;cpus(web):1"), allocated={"f1": {"web": R("cpus:1")}})
    a.add_framework("f1", roles=["db"])
    assert [x.role for x in a.allocate(now=0.0)] == ["db"]  # not the web reservation
    assert a.allocation("f1")["s1"]["web"] == R("cpus:1")


def test_adding_a_known_framework_or_agent_is_an_error():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["*"])
    with pytest.raises(ValueError):
        a.add_agent("s1", R(AGENT))
    with pytest.raises(ValueError):
        a.add_framework("f1", roles=["*"])


def test_update_allocation_reserves_held_resources():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["web"])
    a.allocate(now=0.0)
    a.update_allocation("f1", "s1", "web", R("cpus:1"), R("cpus(web):1"))
    a.recover("f1", "s1", "web", R("cpus:3;mem:2048;cpus(web):1"), now=1.0)
    a.add_framework("f2", roles=["*"])
    assert {(x.framework_id, str(x.resources)) for x in a.allocate(now=1.0)} == {
        ("f1", "cpus(web):1"),
        ("f2", "cpus:3;mem:2048"),
    }


def test_update_allocation_must_keep_the_amounts():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["web"])
    a.allocate(now=0.0)
    with pytest.raises(ValueError):
        a.update_allocation("f1", "s1", "web", R("cpus:1"), R("cpus(web):2"))


def test_shares_reports_dominant_shares_of_roles_and_frameworks():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:10;mem:1000"))
    a.add_framework("f1", roles=["web"])
    a.add_framework("f2", roles=["web"])
    a.update_weights({"web": 2.0})
    a.restore_allocation("f1", "s1", "web", R("cpus:2;mem:100"))
    a.restore_allocation("f2", "s1", "web", R("cpus:1;mem:400"))
    assert a.shares() == {
        "roles": {"web": pytest.approx(0.5 / 2.0)},
        "frameworks": {"f1": pytest.approx(0.2), "f2": pytest.approx(0.4)},
    }


def test_framework_roles_lists_every_framework_with_its_roles():
    a = Allocator(seed=0)
    a.add_framework("f1", roles=["web", "batch"])
    a.add_framework("f2", roles=["batch"])
    a.remove_framework("f2")
    assert a.framework_roles() == {"f1": ("web", "batch")}


def test_weights_must_be_positive():
    a = Allocator(seed=0)
    with pytest.raises(ValueError):
        a.update_weights({"web": 0.0})


def test_membership_is_public():
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT), allocated={"old": {"*": R("cpus:1")}})
    a.add_framework("f1", roles=["*"])
    assert a.has_agent("s1") and not a.has_agent("s2")
    assert a.has_framework("f1") and not a.has_framework("old")
    assert a.has_framework("old", include_unregistered=True)


def test_a_total_shrunk_under_an_allocation_is_made_whole_when_it_comes_back():
    # An operator reserved 2 cpus for web while the whole agent was allocated to f1 (on
    # its way to the master): the master sends that allocation back; what is available
    # is then the new shape, not the old one plus the new one.
    a = Allocator(seed=0)
    a.add_agent("s1", R(AGENT))
    a.add_framework("f1", roles=["*"])
    a.add_framework("w1", roles=["web"])
    a.restore_allocation("f1", "s1", "*", R("cpus:1;mem:512"))  # a running task
    [x] = a.allocate(now=0.0)  # to w1, the role with the smaller share
    assert x.resources == R("cpus:3;mem:1536")
    a.update_agent("s1", R("cpus:2;mem:2048;cpus(web):2"))
    a.recover(x.framework_id, "s1", x.role, x.resources)
    assert a.available("s1") == R("cpus:1;mem:1536;cpus(web):2")
    assert [str(y.resources) for y in a.allocate(now=1.0) if y.role == "web"] == ["cpus:1;mem:1536;cpus(web):2"]
