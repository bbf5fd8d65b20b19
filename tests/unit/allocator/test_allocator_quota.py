"""Quota limits: a role never holds more than its limit."""

from __future__ import annotations

from actors.allocator import Allocator
from actors.allocator.quota import cut_to_limit
from messages import Resources

R = Resources.parse


def test_quota_limit_cuts_unreserved_scalars():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:8;mem:8192"))
    a.add_framework("f1", roles=["web"])
    a.update_quota("web", limit=R("cpus:4;mem:4096"))
    [x] = a.allocate(now=0.0)
    assert x.resources == R("cpus:4;mem:4096")
    assert a.available("s1") == R("cpus:4;mem:4096")


def test_role_at_its_quota_limit_gets_nothing_more():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:4096"))
    a.add_agent("s2", R("cpus:4;mem:4096"))
    a.add_framework("f1", roles=["web"])
    a.update_quota("web", limit=R("cpus:4;mem:4096"))
    assert len(a.allocate(now=0.0)) == 1
    assert a.allocate(now=1.0) == []


def test_quota_room_grows_back_when_resources_are_recovered():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:4096"))
    a.add_agent("s2", R("cpus:4;mem:4096"))
    a.add_framework("f1", roles=["web"])
    a.update_quota("web", limit=R("cpus:4;mem:4096"))
    [x] = a.allocate(now=0.0)
    a.recover("f1", x.agent_id, "web", R("cpus:1;mem:1024"), now=1.0)
    assert [str(y.resources) for y in a.allocate(now=1.0)] == ["cpus:1;mem:1024"]


def test_quota_limit_lets_unlimited_and_non_scalar_resources_pass():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:8;mem:1024;ports:[31000-31009]"))
    a.add_framework("f1", roles=["web"])
    a.update_quota("web", limit=R("cpus:2"))
    [x] = a.allocate(now=0.0)
    assert x.resources == R("cpus:2;mem:1024;ports:[31000-31009]")


def test_quota_limit_does_not_cut_reservations_but_counts_them():
    offer = R("cpus:8;mem:1024;cpus(web):3")
    assert cut_to_limit(offer, {"cpus": 4_000}, {}) == R("cpus:1;mem:1024;cpus(web):3")
    assert cut_to_limit(offer, {"cpus": 2_000}, {}) == R("mem:1024;cpus(web):3")


def test_quota_cut_returns_the_same_offer_when_it_fits():
    offer = R("cpus:1;mem:64")
    assert cut_to_limit(offer, {"cpus": 4_000}, {"cpus": 1_000}) is offer


def test_removing_a_quota_lifts_the_limit():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:8;mem:8192"))
    a.add_framework("f1", roles=["web"])
    a.update_quota("web", limit=R("cpus:4;mem:4096"))
    a.allocate(now=0.0)
    a.update_quota("web", limit=None)
    assert [str(x.resources) for x in a.allocate(now=1.0)] == ["cpus:4;mem:4096"]


def test_quota_set_before_the_role_has_frameworks_applies():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:8;mem:8192"))
    a.update_quota("web", limit=R("cpus:1"))
    a.add_framework("f1", roles=["web"])
    [x] = a.allocate(now=0.0)
    assert x.resources.scalar("cpus") == 1.0


def test_offer_cut_below_the_minimum_is_not_made():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:8"))
    a.add_framework("f1", roles=["web"])
    a.update_quota("web", limit=R("cpus:0.005"))
    assert a.allocate(now=0.0) == []
