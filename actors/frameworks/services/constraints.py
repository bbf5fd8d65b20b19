"""Marathon's placement constraints: `[field, operator, value]` over an agent's hostname
or attributes, given where the app's tasks already run.

>>> ok = lambda c, host, placed: constraint_met(c, host, {}, [(h, {}) for h in placed])
>>> ok(["hostname", "UNIQUE"], "a", ["b"]), ok(["hostname", "UNIQUE"], "a", ["a"])
(True, False)
>>> ok(["hostname", "MAX_PER", "2"], "a", ["a"]), ok(["hostname", "MAX_PER", "2"], "a", ["a", "a"])
(True, False)
>>> ok(["hostname", "LIKE", "web-[0-9]+"], "web-12", []), ok(["hostname", "UNLIKE", "web-.*"], "web-1", [])
(True, False)
>>> ok(["hostname", "GROUP_BY", "2"], "a", ["a"]), ok(["hostname", "GROUP_BY"], "b", ["a"])
(False, True)
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any, Mapping, Sequence

OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER")
Placed = Sequence[tuple[str, Mapping[str, str]]]  # (hostname, attributes) of each task


def constraint_error(c: Any) -> str | None:
    """Why `c` is not a valid constraint, or None."""
    if not isinstance(c, list) or not 2 <= len(c) <= 3 or not all(isinstance(x, str) for x in c):
        return "a constraint is [field, operator] or [field, operator, value] (all text)"
    field, op = c[0], c[1].upper()
    if not field:
        return "the field must not be empty"
    if op not in OPERATORS:
        return f"operator {c[1]!r} is not one of {', '.join(OPERATORS)}"
    value = c[2] if len(c) == 3 else None
    if op in ("LIKE", "UNLIKE", "MAX_PER") and value is None:
        return f"{op} needs a value"
    if op in ("LIKE", "UNLIKE"):
        try:
            _regex(value)
        except re.error as err:
            return f"{value!r} is not a regular expression: {err}"
    if op == "MAX_PER" or (op == "GROUP_BY" and value is not None):
        if not value.isdigit() or int(value) < 1:
            return f"{op} needs a whole number >= 1, not {value!r}"
    return None


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def field_value(field: str, hostname: str, attributes: Mapping[str, str]) -> str | None:
    return hostname if field == "hostname" else attributes.get(field)


def constraint_met(c: Sequence[str], hostname: str, attributes: Mapping[str, str], placed: Placed) -> bool:
    field, op = c[0], c[1].upper()
    value = c[2] if len(c) == 3 else None
    mine = field_value(field, hostname, attributes)
    if op == "UNLIKE":
        return mine is None or not _regex(value).fullmatch(mine)
    if mine is None:
        return False
    if op == "LIKE":
        return bool(_regex(value).fullmatch(mine))
    others = [field_value(field, h, a) for h, a in placed]
    if op == "UNIQUE":
        return mine not in others
    if op == "MAX_PER":
        return others.count(mine) < int(value)
    if op == "CLUSTER":
        if value:
            return mine == value
        seen = {o for o in others if o is not None}
        return not seen or seen == {mine}
    # GROUP_BY: place where the fewest tasks are, among the values seen (or expected)
    counts = Counter(o for o in others if o is not None)
    if value and len(counts) < int(value) and mine not in counts:
        return True
    least = min(counts.values()) if counts else 0
    if value and len(counts) < int(value):
        least = 0
    return counts.get(mine, 0) <= least


def describe(c: Sequence[str]) -> str:
    return ":".join(c)
