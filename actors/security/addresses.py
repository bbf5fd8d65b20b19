"""Principals in addresses: ids proposed by the registering party (an agent's id, a
framework's id) start with its principal, `<principal>-<rest>`, so that broker permission
patterns can say "this principal's queues" (`mesobus auth`, docs/security.md).

>>> principal_id("alice", "3f2a"), principal_id("", "3f2a"), principal_id("a.b", "3f2a")
('alice-3f2a', '3f2a', '3f2a')
"""

from __future__ import annotations

import re

# What `mesobus auth` accepts as a principal: no '-' (it ends the prefix of an id), no
# '.' (it separates an address's parts), nothing a permission pattern would read specially.
PRINCIPAL = re.compile(r"[A-Za-z0-9_]{1,64}")


def principal_id(principal: str, rest: str) -> str:
    """An id for `principal`'s new agent or framework (without a prefix when the principal
    could not be written into a pattern)."""
    if PRINCIPAL.fullmatch(principal or ""):
        return f"{principal}-{rest}"
    return rest
