"""Quota limits: a role never holds more than its limit.

>>> from messages import Resources
>>> offer = Resources.parse("cpus:8;mem:1024;cpus(web):1;ports:[31000-31009]")
>>> str(cut_to_limit(offer, limit={"cpus": 4_000}, consumed={"cpus": 1_000}))
'cpus:2;mem:1024;ports:[31000-31009];cpus(web):1'

The role already holds 1 cpu and the offer brings 1 reserved cpu (reservations pass, but
they count), so 2 unreserved cpus fit under the limit of 4. Names without a limit (mem)
and non-scalar resources (ports) pass untouched.
"""

from __future__ import annotations

from typing import Mapping

from messages import Resources

UNRESERVED = "*"


def cut_to_limit(
    offer: Resources, limit: Mapping[str, int], consumed: Mapping[str, int]
) -> Resources:
    """`offer` with its unreserved scalars cut down so the role stays within `limit`.

    `limit` and `consumed` are quantities (thousandths). Returns `offer` itself when
    nothing had to be cut.
    """
    entries = list(offer.items())
    room: dict[str, int] = {}
    for name, amount in limit.items():
        room[name] = amount - consumed.get(name, 0)
    for name, role, value in entries:
        if role != UNRESERVED and name in room and isinstance(value, int):
            room[name] -= value
    items = {}
    cut = False
    for name, role, value in entries:
        if role == UNRESERVED and name in room and isinstance(value, int):
            fits = max(min(value, room[name]), 0)
            room[name] -= fits
            if fits != value:
                cut = True
            value = fits
        items[(name, role)] = value
    return Resources(items) if cut else offer
