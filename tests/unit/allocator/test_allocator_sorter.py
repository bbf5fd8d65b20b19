"""The DRF sorter on its own: the ordering policy behind the Sorter interface."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.allocator import DRFSorter, Sorter

TOTAL = {"cpus": 10_000, "mem": 10_000}


def sorter(*clients: str) -> DRFSorter:
    s = DRFSorter()
    s.update_total(TOTAL)
    for client in clients:
        s.add(client)
    return s


def test_drf_sorter_implements_the_sorter_interface():
    assert isinstance(DRFSorter(), Sorter)


def test_sorter_orders_by_dominant_share():
    s = sorter("a", "b", "c")
    s.allocated("a", {"cpus": 3_000, "mem": 1_000})  # 30%
    s.allocated("b", {"cpus": 1_000, "mem": 2_000})  # 20%
    assert s.sort() == ["c", "b", "a"]
    assert s.share("a") == pytest.approx(0.3)


def test_sorter_weight_divides_the_share():
    s = sorter("a", "b")
    s.allocated("a", {"cpus": 4_000})
    s.allocated("b", {"cpus": 3_000})
    s.update_weight("a", 2.0)  # 40% / 2 = 20% < 30%
    assert s.sort() == ["a", "b"]


def test_sorter_ties_broken_by_allocation_count_then_name():
    s = sorter("b", "a", "c")
    s.allocated("a", {"cpus": 1_000})
    s.unallocated("a", {"cpus": 1_000})  # share back to 0, count stays 1
    assert s.sort() == ["b", "c", "a"]
    assert s.count("a") == 1


def test_sorter_leaves_inactive_clients_out():
    s = sorter("a", "b")
    s.deactivate("a")
    s.allocated("a", {"cpus": 1_000})  # still tracked while inactive
    assert s.sort() == ["b"]
    s.activate("a")
    assert s.sort() == ["b", "a"]
    assert s.allocation("a") == {"cpus": 1_000}


def test_sorter_reorders_when_the_total_changes():
    s = sorter("a", "b")
    s.allocated("a", {"cpus": 2_000})  # 20% of cpus
    s.allocated("b", {"mem": 3_000})  # 30% of mem
    s.update_total({"cpus": 10_000, "mem": 100_000})  # b: 3% now
    assert s.sort() == ["b", "a"]


def test_sorter_remove_forgets_the_client():
    s = sorter("a", "b")
    s.remove("a")
    assert s.sort() == ["b"] and "a" not in s and len(s) == 1
    with pytest.raises(ValueError):
        s.add("b")


def test_sorter_rejects_non_positive_weights():
    with pytest.raises(ValueError):
        sorter("a").update_weight("a", 0.0)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["alloc", "unalloc", "weight", "deactivate", "activate", "total"]),
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.integers(min_value=0, max_value=5_000),
        st.sampled_from(["cpus", "mem", "disk"]),
    ),
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(OPS)
def test_incremental_order_matches_a_full_sort(ops):
    s = sorter("a", "b", "c", "d", "e")
    total = dict(TOTAL, disk=20_000)
    s.update_total(total)
    model = {c: {"alloc": {}, "count": 0, "weight": 1.0, "active": True} for c in "abcde"}
    for op, client, amount, name in ops:
        m = model[client]
        if op == "alloc":
            s.allocated(client, {name: amount})
            m["alloc"][name] = m["alloc"].get(name, 0) + amount
            m["count"] += 1
        elif op == "unalloc":
            amount = min(amount, m["alloc"].get(name, 0))
            s.unallocated(client, {name: amount})
            m["alloc"][name] = m["alloc"].get(name, 0) - amount
        elif op == "weight":
            s.update_weight(client, 1.0 + amount / 1000)
            m["weight"] = 1.0 + amount / 1000
        elif op == "deactivate":
            s.deactivate(client)
            m["active"] = False
        elif op == "activate":
            s.activate(client)
            m["active"] = True
        else:
            total[name] = 10_000 + amount
            s.update_total(total)

        def key(c: str) -> tuple[float, int, str]:
            mc = model[c]
            share = max((v / total[n] for n, v in mc["alloc"].items()), default=0.0)
            return (share / mc["weight"], mc["count"], c)

        expected = sorted((c for c in model if model[c]["active"]), key=key)
        # Shares may differ in the last bits between incremental and full sums: compare
        # each share approximately, the tie-breakers exactly.
        got = [key(c) for c in s.sort()]
        want = [key(c) for c in expected]
        assert [g[0] for g in got] == pytest.approx([w[0] for w in want])
        assert [g[1:] for g in got] == [w[1:] for w in want]
        assert sorted(s.sort()) == sorted(expected)
