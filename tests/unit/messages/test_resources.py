"""Resources: the Mesos text form, value semantics and fixed-point arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given

from messages import ResourceError, Resources

from .strategies import resources

TEXT = "cpus:4;mem:4096;disk:100;ports:[31000-32000];cpus(web):2"


def test_text_form_parses_and_prints_back() -> None:
    assert str(Resources.parse(TEXT)) == TEXT


def test_equality_is_by_value_not_by_text_order() -> None:
    assert Resources.parse("mem:10;cpus:1") == Resources.parse("cpus:1;mem:10")
    assert hash(Resources.parse("mem:10;cpus:1")) == hash(Resources.parse("cpus:1;mem:10"))


def test_scalar_sums_do_not_drift() -> None:
    total = Resources()
    for _ in range(10):
        total = total + Resources.parse("cpus:0.1")
    assert total == Resources.parse("cpus:1")
    assert Resources.parse("cpus:0.1") + Resources.parse("cpus:0.2") == Resources.parse("cpus:0.3")


def test_scalar_reads_every_role() -> None:
    r = Resources.parse(TEXT)
    assert r.scalar("cpus") == 6.0
    assert r.unreserved().scalar("cpus") == 4.0
    assert r.reserved("web") == Resources.parse("cpus(web):2")
    assert r.reserved() == Resources.parse("cpus(web):2")
    assert r.allocatable_to("batch") == r.unreserved()


def test_ranges_merge_and_subtract() -> None:
    r = Resources.parse("ports:[1-5,6-10,20-30]")
    assert str(r) == "ports:[1-10,20-30]"
    assert str(r - Resources.parse("ports:[3-4,25-30]")) == "ports:[1-2,5-10,20-24]"
    assert r.ranges("ports") == ((1, 10), (20, 30))


def test_sets_add_and_subtract() -> None:
    r = Resources.parse("disks:{a,b}") + Resources.parse("disks:{c}")
    assert str(r) == "disks:{a,b,c}"
    assert str(r - Resources.parse("disks:{b}")) == "disks:{a,c}"


def test_contains_compares_every_item() -> None:
    big = Resources.parse(TEXT)
    assert Resources.parse("cpus:1;ports:[31000-31010]") <= big
    assert not Resources.parse("cpus:5") <= big  # only 4 unreserved
    assert not Resources.parse("cpus(batch):1") <= big
    assert not Resources.parse("ports:[1-2]") <= big
    assert big.contains(Resources.parse("cpus(web):2"))


def test_subtracting_more_than_there_is_leaves_nothing() -> None:
    assert (Resources.parse("cpus:1") - Resources.parse("cpus:2")).is_empty()


def test_zero_amounts_are_empty() -> None:
    assert Resources.parse("cpus:0;mem:0").is_empty()


@pytest.mark.parametrize(
    "text, names",
    [
        ("cpus:4;mem:abc", "mem"),
        ("cpus:-1", "cpus"),
        ("cpus", "cpus"),
        ("ports:[5-1]", "5-1"),
        ("ports:[a-b]", "a-b"),
        ("cpus:0.0001", "three decimals"),
        ("disks:{a", "disks"),
        # strict: known kinds, no empty parts, no repeats (each with one line)
        ("ports:31000", "ports is ranges, not scalar"),
        ("cpus:[1-2]", "cpus is scalar, not ranges"),
        ("mem:{a,b}", "mem is scalar, not set"),
        (";;;", "empty resource"),
        ("cpus:1;;mem:2", "part 2"),
        ("cpus:1;", "remove the extra ';'"),
        ("cpus:2;cpus:3", "cpus is given twice"),
        ("cpus(web):2;mem:1;cpus(web):3", r"cpus\(web\) is given twice"),
        # bounded: numbers by digits, texts by bytes (never a ValueError from int())
        ("cpus:" + "9" * 5000, "at most 18 digits"),
        ("ports:[1-" + "9" * 5000 + "]", "at most 18 digits"),
        ("cpus:\u0663", "cpus"),  # a non-ASCII digit
        ("x:{" + "a," * 40000 + "}", "over 65536 bytes"),
    ],
)
def test_bad_text_names_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(ResourceError, match=names.replace("[", r"\[")) as caught:
        Resources.parse(text)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400  # one short line


def test_the_empty_text_is_no_resources() -> None:
    assert Resources.parse("").is_empty() and Resources.parse("  ").is_empty()


def test_the_parse_cache_is_bounded_in_bytes_and_skips_long_texts() -> None:
    from messages.resources import _cache

    _cache.clear()
    for i in range(20):  # 20 distinct valid ~60 KB texts (each parsed fine)
        big = ";".join(f"r{i}x{j}:1" for j in range(6000))
        assert Resources.parse(big).scalar(f"r{i}x0") == 1.0
    assert _cache.bytes == 0  # long texts are not kept
    for i in range(100_000):
        Resources.parse(f"cpus:{i % 5000};mem:{i}")
    assert 0 < _cache.bytes <= _cache.max_bytes


@given(resources(), resources())
def test_add_then_subtract_gives_back_the_original(a: Resources, b: Resources) -> None:
    assert a <= a + b
    assert (a + b) - b <= a  # ranges and sets are not multisets: overlaps go once
    if not a.ranges("ports") and not b.ranges("ports"):
        assert (a + b) - b == a


@given(resources())
def test_text_round_trips(a: Resources) -> None:
    assert Resources.parse(str(a)) == a
