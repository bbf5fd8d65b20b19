"""The allocation run: coarse-grained offers, reservations, minimum allocatable, agent order."""

from __future__ import annotations

from actors.allocator import Allocation, Allocator
from messages import Resources

R = Resources.parse


def offers(allocations: list[Allocation]) -> set[tuple[str, str, str, str]]:
    return {(x.framework_id, x.agent_id, x.role, str(x.resources)) for x in allocations}


def test_coarse_grained_offer_gives_everything_available_for_the_role():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048;disk:100;ports:[31000-31005]"))
    a.add_framework("f1", roles=["*"])
    a.add_framework("f2", roles=["*"])
    result = a.allocate(now=0.0)
    assert offers(result) == {("f1", "s1", "*", "cpus:4;mem:2048;disk:100;ports:[31000-31005]")}


def test_allocation_resources_equal_the_parsed_text():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:2;mem:1024;cpus(web):1"), hostname="h1", attributes={"rack": "r1"})
    a.add_framework("f1", roles=["web"])
    [x] = a.allocate(now=0.0)
    assert x == Allocation("f1", "s1", "web", R("cpus:2;mem:1024;cpus(web):1"))


def test_allocated_resources_are_not_offered_again_until_recovered():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048"))
    a.add_framework("f1", roles=["*"])
    a.add_framework("f2", roles=["*"])
    a.allocate(now=0.0)
    assert a.allocate(now=1.0) == []
    assert a.available("s1") == Resources()


def test_resources_of_an_ended_task_are_offered_again_at_once():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048"))
    a.add_framework("f1", roles=["*"])
    [x] = a.allocate(now=0.0)
    a.recover("f1", "s1", "*", R("cpus:1;mem:512"), now=0.5)  # no refuse_seconds: no filter
    assert offers(a.allocate(now=0.6)) == {("f1", "s1", "*", "cpus:1;mem:512")}


def test_partly_used_offer_leaves_the_rest_for_the_next_run():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048"))
    a.add_framework("f1", roles=["*"])
    [x] = a.allocate(now=0.0)
    a.recover("f1", "s1", "*", R("cpus:3;mem:1536"), now=0.0)  # kept cpus:1;mem:512
    assert a.available("s1") == R("cpus:3;mem:1536")
    assert a.allocation("f1") == {"s1": {"*": R("cpus:1;mem:512")}}


def test_recover_returns_only_what_the_framework_holds():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048"))
    a.add_framework("f1", roles=["*"])
    [x] = a.allocate(now=0.0)
    a.recover("f1", "s1", "*", x.resources, now=0.0)
    a.recover("f1", "s1", "*", x.resources, now=0.0)  # twice: must not grow the agent
    a.recover("f2", "s1", "*", R("cpus:8"), now=0.0)  # never held anything
    assert a.available("s1") == R("cpus:4;mem:2048")


def test_reserved_resources_only_offered_to_their_role():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:2;mem:1024;cpus(web):1;mem(web):256"))
    a.add_framework("f1", roles=["db"])
    assert offers(a.allocate(now=0.0)) == {("f1", "s1", "db", "cpus:2;mem:1024")}
    assert a.available("s1") == R("cpus(web):1;mem(web):256")
    assert a.allocate(now=1.0) == []  # the reservation waits for a web framework


def test_next_role_gets_what_is_left_on_the_agent():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:2;mem:1024;cpus(web):1;mem(web):256"))
    a.add_framework("f-db", roles=["db"])
    a.add_framework("f-web", roles=["web"])
    # Both roles at share 0, one allocation each so far: "db" sorts first by name and
    # takes the unreserved part; "web" then gets its reservation.
    assert offers(a.allocate(now=0.0)) == {
        ("f-db", "s1", "db", "cpus:2;mem:1024"),
        ("f-web", "s1", "web", "cpus(web):1;mem(web):256"),
    }


def test_default_role_framework_gets_only_unreserved_resources():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:2;mem:1024;cpus(web):1"))
    a.add_framework("f1", roles=["*"])
    assert offers(a.allocate(now=0.0)) == {("f1", "s1", "*", "cpus:2;mem:1024")}


def test_framework_in_two_roles_is_offered_for_each_role():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:2;mem:1024;cpus(web):1;mem(web):64"))
    a.add_framework("f1", roles=["web", "db"])
    assert offers(a.allocate(now=0.0)) == {
        ("f1", "s1", "db", "cpus:2;mem:1024"),
        ("f1", "s1", "web", "cpus(web):1;mem(web):64"),
    }


def test_min_allocatable_leftover_not_offered():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:0.005;mem:16;disk:1000;ports:[1-100]"))
    a.add_framework("f1", roles=["*"])
    assert a.allocate(now=0.0) == []


def test_min_allocatable_is_met_by_either_cpus_or_mem():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:0.01"))
    a.add_agent("s2", R("mem:32"))
    a.add_framework("f1", roles=["*"])
    assert {x.agent_id for x in a.allocate(now=0.0)} == {"s1", "s2"}


def test_min_allocatable_can_be_configured():
    a = Allocator(seed=0, min_allocatable=[R("cpus:1;mem:128")])
    a.add_agent("s1", R("cpus:1;mem:64"))
    a.add_agent("s2", R("cpus:1;mem:128"))
    a.add_framework("f1", roles=["*"])
    assert {x.agent_id for x in a.allocate(now=0.0)} == {"s2"}


def test_agent_order_is_seeded_and_deterministic():
    def run(seed: int) -> list[str]:
        a = Allocator(seed=seed)
        for i in range(20):
            a.add_agent(f"s{i}", R("cpus:1;mem:128"))
        for i in range(20):
            a.add_framework(f"f{i:02d}", roles=["*"])
        return [x.agent_id for x in a.allocate(now=0.0)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert sorted(run(7)) == sorted(f"s{i}" for i in range(20))


def test_agent_order_is_reshuffled_each_run():
    a = Allocator(seed=3)
    for i in range(20):
        a.add_agent(f"s{i}", R("cpus:1;mem:128"))
    a.add_framework("f1", roles=["*"])
    first = [x.agent_id for x in a.allocate(now=0.0)]
    for agent_id in first:
        a.recover("f1", agent_id, "*", R("cpus:1;mem:128"), now=0.0)
    second = [x.agent_id for x in a.allocate(now=1.0)]
    assert sorted(first) == sorted(second) and first != second
