"""Hierarchical DRF: roles in fair-share order, then frameworks; weights; ties."""

from __future__ import annotations

import pytest

from actors.allocator import Allocator
from messages import Resources

R = Resources.parse


def cluster(agents: int, text: str = "cpus:1;mem:100", seed: int = 0) -> Allocator:
    a = Allocator(seed=seed)
    for i in range(agents):
        a.add_agent(f"s{i}", R(text))
    return a


def test_first_eligible_framework_of_the_neediest_role_gets_the_agent():
    a = cluster(1, "cpus:10;mem:1000")
    a.add_agent("big", R("cpus:10;mem:1000"))
    a.add_framework("rich", roles=["a"])
    a.add_framework("poor", roles=["b"])
    a.restore_allocation("rich", "big", "a", R("cpus:5;mem:100"))  # role a: 25% of cpus
    first = a.allocate(now=0.0)[0]  # whichever agent is visited first
    assert (first.framework_id, first.role) == ("poor", "b")


def test_frameworks_within_a_role_are_visited_in_fair_share_order():
    a = cluster(1, "cpus:4;mem:400")
    a.add_agent("used", R("cpus:4;mem:400"))
    a.add_framework("f-a", roles=["web"])
    a.add_framework("f-b", roles=["web"])
    a.restore_allocation("f-a", "used", "web", R("cpus:1"))
    assert a.allocate(now=0.0)[0].framework_id == "f-b"


def test_share_is_the_dominant_resource_share():
    a = cluster(1, "cpus:10;mem:1000")
    a.add_agent("used", R("cpus:10;mem:1000"))
    a.add_framework("cpu-heavy", roles=["*"])
    a.add_framework("mem-heavy", roles=["*"])
    a.restore_allocation("cpu-heavy", "used", "*", R("cpus:4;mem:100"))  # dominant: 20% cpus
    a.restore_allocation("mem-heavy", "used", "*", R("cpus:1;mem:600"))  # dominant: 30% mem
    assert a.shares()["frameworks"] == pytest.approx({"cpu-heavy": 0.2, "mem-heavy": 0.3})
    assert a.allocate(now=0.0)[0].framework_id == "cpu-heavy"


def test_weights_scale_role_share():
    a = cluster(4)
    a.add_framework("f-heavy", roles=["heavy"])
    a.add_framework("f-light", roles=["light"])
    a.update_weights({"heavy": 3.0})
    got = [x.role for x in a.allocate(now=0.0)]
    # "heavy" may hold three times the share of "light" before it ranks behind it.
    assert got.count("heavy") == 3 and got.count("light") == 1
    assert a.shares()["roles"] == pytest.approx({"heavy": 0.75 / 3.0, "light": 0.25})


def test_weight_applies_to_roles_not_to_frameworks_within_a_role():
    a = cluster(2)
    a.update_weights({"web": 10.0})
    a.add_framework("f1", roles=["web"])
    a.add_framework("f2", roles=["web"])
    assert sorted(x.framework_id for x in a.allocate(now=0.0)) == ["f1", "f2"]


def test_ties_broken_by_allocation_count_then_name():
    a = cluster(1)
    a.add_framework("f-b", roles=["*"])
    a.add_framework("f-a", roles=["*"])
    winners = []
    for now in (0.0, 1.0, 2.0):
        [x] = a.allocate(now=now)
        winners.append(x.framework_id)
        a.recover(x.framework_id, "s0", "*", x.resources, now=now)
    # Equal shares every time (all recovered). Run 1: no allocations yet, name order.
    # Run 2: f-b has received fewer allocations. Run 3: one each, name order again.
    assert winners == ["f-a", "f-b", "f-a"]


def test_recover_never_decreases_the_allocation_count():
    a = cluster(1)
    a.add_agent("held", R("cpus:1;mem:100"))
    a.add_framework("f-a", roles=["*"])
    a.add_framework("f-b", roles=["*"])
    for _ in range(3):  # f-a received three allocations and gave them all back
        a.restore_allocation("f-a", "held", "*", R("cpus:1;mem:100"))
        a.recover("f-a", "held", "*", R("cpus:1;mem:100"), now=0.0)
    a.restore_allocation("f-b", "held", "*", R("cpus:1;mem:100"))
    a.recover("f-b", "held", "*", R("cpus:1;mem:100"), now=0.0)
    assert a.allocate(now=0.0)[0].framework_id == "f-b"  # 1 allocation beats 3


def test_reserved_resources_count_toward_the_role_share():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:400;cpus(web):4"))
    a.add_framework("f-web", roles=["web"])
    a.add_framework("f-db", roles=["db"])
    a.allocate(now=0.0)
    shares = a.shares()["roles"]
    # db took the unreserved half first (name order), web got its reservation: 4 of 8 cpus.
    assert shares["web"] == pytest.approx(0.5)


def test_a_new_cluster_total_reorders_by_the_new_shares():
    a = cluster(1, "cpus:10;mem:1000")
    a.add_framework("f-a", roles=["*"])
    a.add_framework("f-b", roles=["*"])
    a.add_agent("x", R("cpus:10;mem:1000"))
    a.restore_allocation("f-a", "x", "*", R("cpus:2;mem:10"))
    a.restore_allocation("f-b", "x", "*", R("cpus:1;mem:500"))
    assert a.shares()["frameworks"] == pytest.approx({"f-a": 0.1, "f-b": 0.25})
    a.update_agent("s0", R("cpus:10;mem:99000"))  # mem is now plentiful
    assert a.shares()["frameworks"] == pytest.approx({"f-a": 0.1, "f-b": 0.05})
    a.remove_agent("s0")  # back to x alone: f-a holds 20% (cpus), f-b 50% (mem)
    [x] = a.allocate(now=0.0)  # x's leftover
    assert x.framework_id == "f-a"
