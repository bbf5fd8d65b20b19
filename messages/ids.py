"""The id rules of the protocol: one place says what an id may be, for every actor that
checks one (the master, the agent, the executor, a scheduler, the operator API).

Ids name mailboxes (an agent's and a framework's id are parts of addresses, which are
AMQP routing keys) and directories (sandboxes), so the rules are those of both, counted
as they count: lengths in BYTES of UTF-8 (`MAX_ID_BYTES`, the same bound the codec puts on
every `*_id` field).

>>> id_problem("task id", "web.1f3a") is None, id_problem("task id", "../etc")
(True, "task id '../etc' must not contain '/'")
>>> address_id_problem("framework id", "alice-f1") is None, address_id_problem("framework id", "a.b")
(True, "framework id 'a.b' must not contain '.' (it separates an address's parts)")
>>> principal_id("alice", "3f2a"), principal_id("", "3f2a"), principal_id("a.b", "3f2a")
('alice-3f2a', '3f2a', '3f2a')
"""

from __future__ import annotations

import re

from messages.limits import MAX_ID_BYTES, utf8_fits

# The built-in command executor's id: the same on every agent (its address therefore
# includes the agent's id, messages/addresses.py); reserved, no framework may use it.
COMMAND_EXECUTOR_ID = "mesobus-command"

# What `mesobus auth` accepts as a principal (a broker user): no '-' (it ends the prefix
# of an id), no '.' (it separates an address's parts), nothing a permission pattern would
# read specially.
PRINCIPAL = re.compile(r"[A-Za-z0-9_]{1,64}")

_WILDCARDS = "*#"  # topic wildcards: in a binding key they would match other addresses


def id_problem(what: str, value: object) -> str | None:
    """Why `value` cannot be an id (it may name a directory), or None if it can.

    Mesos' rules: non-empty text, no '/', no whitespace or control characters, not '.' or
    '..'; and at most MAX_ID_BYTES bytes of UTF-8.
    """
    if not isinstance(value, str):
        return f"{what} must be text"
    if not value:
        return f"{what} must not be empty"
    if not utf8_fits(value, MAX_ID_BYTES):
        return f"{what} is longer than {MAX_ID_BYTES} bytes (UTF-8)"
    if value in (".", ".."):
        return f"{what} {value!r} is not allowed"
    if "/" in value:
        return f"{what} {value!r} must not contain '/'"
    if not value.isprintable() or " " in value:  # other whitespace is not printable
        return f"{what} {value!r} must not contain spaces or control characters"
    return None


def address_id_problem(what: str, value: object, *, last: bool = False) -> str | None:
    """Why `value` cannot be an id that is part of an address, or None if it can: an
    id's rules, no topic wildcard ('*', '#'), and no '.' unless it is the address's last
    part (an executor's id; agent and framework ids never hold one, so that a permission
    pattern can say "this principal's mailboxes", actors/security/permissions.py)."""
    problem = id_problem(what, value)
    if problem:
        return problem
    assert isinstance(value, str)
    if any(c in _WILDCARDS for c in value):
        return f"{what} {value!r} must not contain '*' or '#'"
    if not last and "." in value:
        return f"{what} {value!r} must not contain '.' (it separates an address's parts)"
    return None


def principal_id(principal: str, rest: str) -> str:
    """An id for `principal`'s new agent or framework, `<principal>-<rest>`, so that
    broker permission patterns can match its mailboxes (docs/security.md); without the
    prefix when the principal could not be written into a pattern."""
    if PRINCIPAL.fullmatch(principal or ""):
        return f"{principal}-{rest}"
    return rest
