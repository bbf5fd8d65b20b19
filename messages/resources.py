"""Resources: the value type of what agents have and frameworks get, in Mesos' text form.

>>> r = Resources.parse("cpus:4;mem:4096;ports:[31000-32000];cpus(web):2")
>>> r.scalar("cpus"), r.unreserved().scalar("cpus"), str(r.reserved("web"))
(6.0, 4.0, 'cpus(web):2')
>>> Resources.parse("cpus:0.1") + Resources.parse("cpus:0.2") == Resources.parse("cpus:0.3")
True

Scalars are kept in fixed point with three decimals (integer thousandths), as Mesos does,
so sums never drift. Ranges are sorted, merged tuples of inclusive (begin, end) pairs; sets
are frozensets of strings. Every value is keyed by (name, role); role "*" is unreserved.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Iterator, Mapping, Union

from messages.errors import ResourceError

UNRESERVED = "*"
SCALE = 1000  # fixed point: thousandths

Ranges = tuple[tuple[int, int], ...]
Value = Union[int, Ranges, frozenset]  # int = scalar in thousandths
Key = tuple[str, str]  # (name, role)

_ITEM = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(?:\(\s*([^()\s]+)\s*\))?\s*:\s*(.+?)\s*$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_ORDER = {"cpus": 0, "gpus": 1, "mem": 2, "disk": 3, "ports": 4}


@lru_cache(maxsize=4096)  # values are immutable, and the same few texts recur in every message
def _parse(text: str) -> "Resources":
    items: dict[Key, Value] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _ITEM.match(part)
        if not match:
            raise ResourceError(f"bad resource {part.strip()!r}: expected name(role):value")
        key = (match.group(1), match.group(2) or UNRESERVED)
        value = _parse_value(key[0], match.group(3))
        mine = items.get(key)
        items[key] = value if mine is None else _add(key, mine, value)
    return Resources(items)


class Resources:
    """An immutable bag of named resources, compared by value."""

    __slots__ = ("_items", "_hash", "_text")  # the last two computed once, when asked

    def __init__(self, items: Mapping[Key, Value] | None = None) -> None:
        self._items: dict[Key, Value] = {k: v for k, v in (items or {}).items() if v}
        self._hash: int | None = None
        self._text: str | None = None

    # --- construction -----------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> "Resources":
        """Parse `name(role):value;...`; scalars `4` or `0.5`, ranges `[a-b,c-d]`, sets `{x,y}`."""
        if not isinstance(text, str):
            raise ResourceError(f"resources must be text, not {type(text).__name__}")
        return _parse(text)

    @classmethod
    def scalars(cls, role: str = UNRESERVED, **amounts: float) -> "Resources":
        """Build scalar resources from keywords: `Resources.scalars(cpus=1, mem=128)`."""
        return cls({(name, role): _to_fixed(name, amount) for name, amount in amounts.items()})

    # --- queries ----------------------------------------------------------------------

    def scalar(self, name: str) -> float:
        """The amount of scalar `name` over every role, as a float."""
        return self.scalar_fixed(name) / SCALE

    def scalar_fixed(self, name: str) -> int:
        """The amount of scalar `name` over every role, in thousandths."""
        return sum(v for (n, _), v in self._items.items() if n == name and isinstance(v, int))

    def ranges(self, name: str) -> Ranges:
        """The ranges of `name` over every role, merged."""
        merged: Ranges = ()
        for (n, _), v in self._items.items():
            if n == name and isinstance(v, tuple):
                merged = _add_ranges(merged, v)
        return merged

    def names(self) -> set[str]:
        return {name for name, _ in self._items}

    def roles(self) -> set[str]:
        """The roles that hold reservations here ("*" not included)."""
        return {role for _, role in self._items if role != UNRESERVED}

    def items(self) -> Iterator[tuple[str, str, Value]]:
        """(name, role, value) triples in canonical order."""
        for name, role in sorted(self._items, key=_sort_key):
            yield name, role, self._items[(name, role)]

    def scalar_items(self) -> Iterator[tuple[str, int]]:
        """(name, thousandths) for every scalar, per role entries summed by name."""
        sums: dict[str, int] = {}
        for (name, _), v in self._items.items():
            if isinstance(v, int):
                sums[name] = sums.get(name, 0) + v
        return iter(sums.items())

    def is_empty(self) -> bool:
        return not self._items

    def __bool__(self) -> bool:
        return bool(self._items)

    def unreserved(self) -> "Resources":
        return self._where(lambda role: role == UNRESERVED)

    def reserved(self, role: str | None = None) -> "Resources":
        """Resources reserved for `role`, or for any role when `role` is None."""
        if role is None:
            return self._where(lambda r: r != UNRESERVED)
        return self._where(lambda r: r == role)

    def allocatable_to(self, role: str) -> "Resources":
        """What a framework in `role` may be offered: unreserved plus reserved for `role`."""
        return self._where(lambda r: r == UNRESERVED or r == role)

    def flatten(self, role: str = UNRESERVED) -> "Resources":
        """The same amounts, all under one role (reserve and unreserve use this)."""
        out = Resources()
        for (name, _), v in self._items.items():
            out = out + Resources({(name, role): v})
        return out

    def only(self, *names: str) -> "Resources":
        return Resources({k: v for k, v in self._items.items() if k[0] in names})

    def _where(self, keep) -> "Resources":
        return Resources({k: v for k, v in self._items.items() if keep(k[1])})

    # --- arithmetic -------------------------------------------------------------------

    def __add__(self, other: "Resources") -> "Resources":
        if not other._items:
            return self
        items = dict(self._items)
        for key, v in other._items.items():
            mine = items.get(key)
            items[key] = v if mine is None else _add(key, mine, v)
        return Resources(items)

    def __sub__(self, other: "Resources") -> "Resources":
        """Take away what `other` holds; what would go negative or empty disappears."""
        if not other._items:
            return self
        items = dict(self._items)
        for key, v in other._items.items():
            mine = items.get(key)
            if mine is not None:
                items[key] = _subtract(key, mine, v)
        return Resources(items)

    def __le__(self, other: "Resources") -> bool:
        """True when `other` contains every resource held here."""
        theirs = other._items
        for key, v in self._items.items():
            t = theirs.get(key)
            if t is None or not _contains(t, v):
                return False
        return True

    def contains(self, other: "Resources") -> bool:
        return other <= self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resources) and self._items == other._items

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __str__(self) -> str:
        if self._text is None:
            self._text = ";".join(_format_item(n, r, v) for n, r, v in self.items())
        return self._text

    def __repr__(self) -> str:
        return f"Resources.parse({str(self)!r})"

    def __reduce__(self):
        return (Resources.parse, (str(self),))


def sum_resources(parts: Iterable[Resources]) -> Resources:
    total = Resources()
    for part in parts:
        total = total + part
    return total


# --- value helpers -------------------------------------------------------------------


def _sort_key(key: Key) -> tuple:
    name, role = key
    return (role != UNRESERVED, role, _ORDER.get(name, len(_ORDER)), name)


def _to_fixed(name: str, amount: float) -> int:
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount != amount:
        raise ResourceError(f"bad amount for {name}: {amount!r}")
    if amount < 0:
        raise ResourceError(f"negative amount for {name}: {amount!r}")
    return round(amount * SCALE)


def _parse_value(name: str, raw: str) -> Value:
    if raw.startswith("["):
        return _parse_ranges(name, raw)
    if raw.startswith("{"):
        if not raw.endswith("}"):
            raise ResourceError(f"bad set for {name}: {raw!r} (expected {{a,b}})")
        members = frozenset(m.strip() for m in raw[1:-1].split(",") if m.strip())
        return members
    if not _NUMBER.match(raw):
        raise ResourceError(f"bad scalar for {name}: {raw!r} (expected a non-negative number)")
    whole, _, frac = raw.partition(".")
    if len(frac.rstrip("0")) > 3:
        raise ResourceError(f"bad scalar for {name}: {raw!r} (at most three decimals)")
    return int(whole) * SCALE + int((frac + "000")[:3])


def _parse_ranges(name: str, raw: str) -> Ranges:
    if not raw.endswith("]"):
        raise ResourceError(f"bad ranges for {name}: {raw!r} (expected [a-b,c-d])")
    pairs: list[tuple[int, int]] = []
    for piece in raw[1:-1].split(","):
        piece = piece.strip()
        if not piece:
            continue
        lo, sep, hi = piece.partition("-")
        if not (lo.strip().isdigit() and (not sep or hi.strip().isdigit())):
            raise ResourceError(f"bad range {piece!r} for {name}")
        begin, end = int(lo), int(hi) if sep else int(lo)
        if begin > end:
            raise ResourceError(f"bad range {piece!r} for {name}: begin after end")
        pairs.append((begin, end))
    return _merge(pairs)


def _merge(pairs: Iterable[tuple[int, int]]) -> Ranges:
    out: list[list[int]] = []
    for begin, end in sorted(pairs):
        if out and begin <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([begin, end])
    return tuple((b, e) for b, e in out)


def _add_ranges(a: Ranges, b: Ranges) -> Ranges:
    return _merge(a + b)


def _subtract_ranges(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for begin, end in a:
        pieces = [(begin, end)]
        for cut_b, cut_e in b:
            next_pieces = []
            for pb, pe in pieces:
                if cut_e < pb or cut_b > pe:
                    next_pieces.append((pb, pe))
                    continue
                if pb < cut_b:
                    next_pieces.append((pb, cut_b - 1))
                if cut_e < pe:
                    next_pieces.append((cut_e + 1, pe))
            pieces = next_pieces
        out.extend(pieces)
    return tuple(out)


def _kind(v: Value) -> str:
    return "scalar" if isinstance(v, int) else "ranges" if isinstance(v, tuple) else "set"


def _check_same_kind(key: Key, a: Value, b: Value) -> None:
    if _kind(a) != _kind(b):
        raise ResourceError(f"{key[0]} is both {_kind(a)} and {_kind(b)}")


def _add(key: Key, a: Value, b: Value) -> Value:
    _check_same_kind(key, a, b)
    if isinstance(a, int):
        return a + b
    if isinstance(a, tuple):
        return _add_ranges(a, b)
    return a | b


def _subtract(key: Key, a: Value, b: Value) -> Value:
    _check_same_kind(key, a, b)
    if isinstance(a, int):
        return max(a - b, 0)
    if isinstance(a, tuple):
        return _subtract_ranges(a, b)
    return a - b


def _contains(big: Value, small: Value) -> bool:
    if _kind(big) != _kind(small):
        return False
    if isinstance(big, int):
        return small <= big
    if isinstance(big, tuple):
        return all(any(b <= sb and se <= e for b, e in big) for sb, se in small)
    return small <= big


def _format_item(name: str, role: str, v: Value) -> str:
    label = name if role == UNRESERVED else f"{name}({role})"
    if isinstance(v, int):
        text = str(v // SCALE) if v % SCALE == 0 else f"{v / SCALE:.3f}".rstrip("0")
    elif isinstance(v, tuple):
        text = "[" + ",".join(f"{b}-{e}" for b, e in v) + "]"
    else:
        text = "{" + ",".join(sorted(v)) + "}"
    return f"{label}:{text}"
