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
import threading
from typing import Iterable, Iterator, Mapping, Union

from messages.errors import ResourceError, shown
from messages.limits import MAX_RESOURCE_DIGITS, MAX_RESOURCE_TEXT_BYTES, utf8_fits

UNRESERVED = "*"
SCALE = 1000  # fixed point: thousandths

Ranges = tuple[tuple[int, int], ...]
Value = Union[int, Ranges, frozenset]  # int = scalar in thousandths
Key = tuple[str, str]  # (name, role)

_ITEM = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(?:\(\s*([^()\s]+)\s*\))?\s*:\s*(.+?)\s*$")
_NUMBER = re.compile(r"^[0-9]{1,%d}(\.[0-9]+)?$" % MAX_RESOURCE_DIGITS)  # ASCII digits only
_LONG_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_DIGITS = re.compile(r"^\s*[0-9]{1,%d}\s*$" % MAX_RESOURCE_DIGITS)
_ORDER = {"cpus": 0, "gpus": 1, "mem": 2, "disk": 3, "ports": 4}
# The kinds of the names Mesos knows; a value of another kind is a mistake.
_KNOWN_KINDS = {"cpus": "scalar", "gpus": "scalar", "mem": "scalar", "disk": "scalar", "ports": "ranges"}
_EXAMPLES = {"scalar": "e.g. cpus:2 or mem:512.5", "ranges": "e.g. ports:[31000-32000]", "set": "e.g. zones:{a,b}"}


def _parse(text: str) -> "Resources":
    """Parse a resource text, strictly: every `;`-separated part names one resource,
    each (name, role) at most once, and the known names have their kind (`cpus` is a
    scalar, `ports` ranges). Sizes are bounded before any work (messages/limits.py)."""
    if not utf8_fits(text, MAX_RESOURCE_TEXT_BYTES):
        raise ResourceError(f"resource text is over {MAX_RESOURCE_TEXT_BYTES} bytes")
    items: dict[Key, Value] = {}
    if not text.strip():
        return Resources()
    for n, part in enumerate(text.split(";"), start=1):
        if not part.strip():
            raise ResourceError(f"empty resource (part {n} of {shown(text)}): remove the extra ';'")
        match = _ITEM.match(part)
        if not match:
            raise ResourceError(f"bad resource {shown(part.strip())}: expected name(role):value")
        key = (match.group(1), match.group(2) or UNRESERVED)
        if key in items:
            label = key[0] if key[1] == UNRESERVED else f"{key[0]}({key[1]})"
            raise ResourceError(f"{label} is given twice in {shown(text)}: give it once")
        items[key] = _parse_value(key[0], match.group(3))
    return Resources(items)


class _ParseCache:
    """Parsed resource texts, bounded in bytes: the same few short texts recur in every
    message; a long one (a hostile 5 MB text, or a rare big agent) is parsed each time
    rather than kept. When full, the oldest entries go first."""

    def __init__(self, max_bytes: int, max_text: int) -> None:
        self.max_bytes, self.max_text = max_bytes, max_text
        self.bytes = 0
        self._items: dict[str, Resources] = {}
        self._lock = threading.Lock()

    def parse(self, text: str) -> "Resources":
        found = self._items.get(text)
        if found is not None:
            return found
        parsed = _parse(text)
        cost = len(text) * 4 + 200  # the text and about what its parsed form holds
        if len(text) <= self.max_text:
            with self._lock:
                while self._items and self.bytes + cost > self.max_bytes:
                    oldest = next(iter(self._items))
                    del self._items[oldest]
                    self.bytes -= len(oldest) * 4 + 200
                if text not in self._items:
                    self._items[text] = parsed
                    self.bytes += cost
        return parsed

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


_cache = _ParseCache(max_bytes=4 * 1024 * 1024, max_text=1024)
_cached = _cache._items


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
        found = _cached.get(text)  # the hot path: one dict lookup
        return found if found is not None else _cache.parse(text)

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
    kind = "ranges" if raw.startswith("[") else "set" if raw.startswith("{") else "scalar"
    expected = _KNOWN_KINDS.get(name)
    if expected is not None and kind != expected:
        raise ResourceError(f"{name} is {expected}, not {kind}: {shown(raw)} ({_EXAMPLES[expected]})")
    if kind == "ranges":
        return _parse_ranges(name, raw)
    if kind == "set":
        if not raw.endswith("}"):
            raise ResourceError(f"bad set for {name}: {shown(raw)} (expected {{a,b}})")
        members = frozenset(m.strip() for m in raw[1:-1].split(",") if m.strip())
        return members
    if not _NUMBER.match(raw):
        if _LONG_NUMBER.match(raw):
            raise ResourceError(f"bad scalar for {name}: {shown(raw)} (at most {MAX_RESOURCE_DIGITS} digits)")
        raise ResourceError(f"bad scalar for {name}: {shown(raw)} (expected a non-negative number)")
    whole, _, frac = raw.partition(".")
    if len(frac.rstrip("0")) > 3:
        raise ResourceError(f"bad scalar for {name}: {shown(raw)} (at most three decimals)")
    return int(whole) * SCALE + int((frac.rstrip("0") + "000")[:3])


def _parse_ranges(name: str, raw: str) -> Ranges:
    if not raw.endswith("]"):
        raise ResourceError(f"bad ranges for {name}: {shown(raw)} (expected [a-b,c-d])")
    pairs: list[tuple[int, int]] = []
    for piece in raw[1:-1].split(","):
        piece = piece.strip()
        if not piece:
            continue
        lo, sep, hi = piece.partition("-")
        if not (_DIGITS.match(lo) and (not sep or _DIGITS.match(hi))):
            raise ResourceError(
                f"bad range {shown(piece)} for {name} (expected a-b, numbers of at most {MAX_RESOURCE_DIGITS} digits)"
            )
        begin, end = int(lo), int(hi) if sep else int(lo)
        if begin > end:
            raise ResourceError(f"bad range {shown(piece)} for {name}: begin after end")
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
