"""Does one instance of an app fit an offer? The resources and host ports to take, or
Marathon's reasons why not (the `reason` of `/v2/queue`'s `lastUnusedOffers`).

>>> from messages import Offer, Resources
>>> offer = Offer("o1", "fw", "a1", "host-1", Resources.parse("cpus:1;mem:256;ports:[31000-31005]"))
>>> app = {"cpus": 0.5, "mem": 64, "disk": 0, "gpus": 0, "portDefinitions": [{"port": 0}, {"port": 0}],
...        "requirePorts": False, "constraints": [], "acceptedResourceRoles": None}
>>> fit = match(app, offer, [])
>>> str(fit.resources), fit.ports
('cpus:0.5;mem:64;ports:[31000-31001]', [31000, 31001])
>>> match(dict(app, cpus=2, constraints=[["hostname", "LIKE", "db-.*"]]), offer, [])
['InsufficientCpus', 'UnfulfilledConstraint(hostname:LIKE:db-.*)']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.frameworks.services.constraints import Placed, constraint_met, describe
from messages import Offer, Resources
from messages.resources import SCALE, UNRESERVED

_SCALARS = (("cpus", "InsufficientCpus"), ("mem", "InsufficientMemory"), ("disk", "InsufficientDisk"),
            ("gpus", "InsufficientGpus"))


@dataclass
class Fit:
    resources: Resources
    ports: list[int]


def usable(offer: Offer, app: dict[str, Any]) -> Resources:
    """The part of the offer the app may use: unreserved and reserved for the offer's role,
    narrowed to `acceptedResourceRoles` when the app gives them."""
    roles = app.get("acceptedResourceRoles")
    allowed = set(roles) if roles else {UNRESERVED, offer.role}
    return Resources({(n, r): v for n, r, v in offer.resources.items() if r in allowed})


def match(app: dict[str, Any], offer: Offer, placed: Placed) -> Fit | list[str]:
    """A Fit, or the reasons (Marathon's names) why the offer does not fit."""
    reasons: list[str] = []
    have = usable(offer, app)
    if not have and offer.resources:
        reasons.append("UnfulfilledRole")
    taken = Resources()
    for name, reason in _SCALARS:
        need = round(float(app.get(name) or 0) * SCALE)
        if not need:
            continue
        got = 0
        for role in sorted({r for _, r, _ in have.items()}, key=lambda r: r == UNRESERVED, reverse=True):
            part = min(need - got, _amount(have, name, role))
            if part > 0:
                taken = taken + Resources({(name, role): part})
                got += part
            if got >= need:
                break
        if got < need:
            reasons.append(reason)
    ports = _ports(app, have)
    if ports is None:
        reasons.append("InsufficientPorts")
    for c in app.get("constraints") or ():
        if not constraint_met(c, offer.hostname, offer.attributes, placed):
            reasons.append(f"UnfulfilledConstraint({describe(c)})")
    if reasons:
        return reasons
    assert ports is not None
    if ports:
        taken = taken + _ports_resource(have, ports)
    return Fit(taken, ports)


def _amount(have: Resources, name: str, role: str) -> int:
    return have.reserved(role).scalar_fixed(name) if role != UNRESERVED else have.unreserved().scalar_fixed(name)


def _ports(app: dict[str, Any], have: Resources) -> list[int] | None:
    definitions = app.get("portDefinitions") or []
    if not definitions:
        return []
    free = have.ranges("ports")
    if app.get("requirePorts"):
        wanted = [d["port"] for d in definitions]
        return wanted if all(any(lo <= p <= hi for lo, hi in free) for p in wanted) else None
    out: list[int] = []
    for lo, hi in free:
        for port in range(lo, hi + 1):
            out.append(port)
            if len(out) == len(definitions):
                return out
    return None


def _ports_resource(have: Resources, ports: list[int]) -> Resources:
    out = Resources()
    for role in sorted({r for n, r, _ in have.items() if n == "ports"}, key=lambda r: r != UNRESERVED):
        ranges = have.reserved(role).ranges("ports") if role != UNRESERVED else have.unreserved().ranges("ports")
        mine = [p for p in ports if any(lo <= p <= hi for lo, hi in ranges)]
        if mine:
            for port in mine:  # added one by one: the sum merges neighbours into ranges
                out = out + Resources({("ports", role): ((port, port),)})
            ports = [p for p in ports if p not in mine]
    return out
