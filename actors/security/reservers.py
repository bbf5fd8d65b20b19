"""Who made an agent's dynamic reservations, and Mesos' ACL checks on them: a RESERVE
needs `reserve_resources` for each role it reserves for; an UNRESERVE needs
`unreserve_resources` for each principal that made the reservations it gives back (the
"reserver principals"; "" when the reservation was made without one, which only a rule
for ANY reserver allows).

mesobus keeps reservations as amounts per (resource, role), not one by one as Mesos
does: the reservers are kept per role on each agent (in the registry, `ReservationsSet`),
and an UNRESERVE for a role is checked against every principal that reserved for it there.

>>> from actors.master.acls import parse_acls
>>> from messages import Resources
>>> acls = parse_acls('{"unreserve_resources": [{"principals": {"values": ["ops"]}, "reserver_principals": {"type": "ANY"}},'
...                   ' {"principals": {"values": ["dev"]}, "reserver_principals": {"values": ["dev"]}}]}')
>>> res = Resources.parse("cpus(web):1")
>>> refusal(acls, "dev", res, {"web": ("dev",)}, reserve=False) is None
True
>>> refusal(acls, "dev", res, {"web": ("dev", "ops")}, reserve=False)
"principal 'dev' may not unreserve resources of role 'web' reserved by 'ops' (ACL unreserve_resources)"
>>> after(Resources.parse("cpus(web):1;mem(db):64"), {"web": ("ops",)}, "dev", Resources.parse("mem(db):64"))
{'web': ('ops',), 'db': ('dev',)}
"""

from __future__ import annotations

from typing import Mapping, Protocol

from messages import Resources

Reservers = Mapping[str, tuple[str, ...]]  # role -> the principals that reserved for it


class Acls(Protocol):
    def allows(self, action: str, principal: str, obj: str = "") -> bool: ...


def refusal(acls: Acls, principal: str, resources: Resources, reservers: Reservers, *, reserve: bool) -> str | None:
    """Why `principal` may not (un)reserve `resources` on an agent whose reservers are
    `reservers`, or None."""
    for role in sorted(resources.roles()):
        if reserve:
            if not acls.allows("reserve_resources", principal, role):
                return f"principal {principal!r} may not reserve for role {role[:80]!r} (ACL reserve_resources)"
            continue
        for reserver in reservers.get(role, ("",)):
            if not acls.allows("unreserve_resources", principal, reserver):
                return (f"principal {principal!r} may not unreserve resources of role {role[:80]!r} reserved by "
                        f"{reserver!r} (ACL unreserve_resources)")
    return None


def after(reservations: Resources, reservers: Reservers, principal: str, reserved: Resources) -> dict[str, tuple[str, ...]]:
    """The reservers once an agent's reservations are `reservations`: `principal` added
    for each role of what it just `reserved` (empty for an UNRESERVE), roles with nothing
    reserved any more left out."""
    out = {role: who for role, who in reservers.items()}
    for role in sorted(reserved.roles()):
        out[role] = tuple(sorted(set(out.get(role, ())) | {principal}))
    held = reservations.roles()
    return {role: who for role, who in out.items() if role in held}
