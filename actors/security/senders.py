"""Sender checks: a message is trusted for the principal that published it (the broker
verified it: `Delivery.user_id`), never for the `sender`/`epoch` its envelope declares.

An actor mixes in `SenderChecks` before `Actor` and says, in `sender_problem`, why a
message cannot be from the principal that published it. A refused message never reaches
its handler (nor the leader-epoch bookkeeping): it is dead-lettered with the reason,
logged and counted (`counters["refused"]`).

`dispatch(envelope)` called without a user (replay, an actor handing itself a message) is
trusted: only what came off the transport is checked. What replay feeds back was accepted
when it was recorded (a refused message is never recorded as handled).

>>> from actors.runtime import Actor, MemoryTransport, on
>>> from messages import Envelope, PingAgent
>>> class Follower(SenderChecks, Actor):
...     def sender_problem(self, envelope, user):
...         return from_leader_or_self(self, envelope, user, master_principal="root")
>>> f = Follower("agent.a", MemoryTransport(user="agent-a"))
>>> f.leader_address = "master"
>>> ping = Envelope(id="1", sender="master", target="agent.a", body=PingAgent(), epoch=2**62)
>>> f.dispatch(ping, "mallory")
"refused: PingAgent claims to be from 'master', whose principal is 'root', but was published by 'mallory'"
>>> f.leader_epoch, f.counters["refused"]
(0, 1)
"""

from __future__ import annotations

import logging
from typing import Any

from actors.runtime import Transport
from messages import Envelope

log = logging.getLogger(__name__)


def own_principal(transport: Transport) -> str:
    """The principal this process publishes as (a wrapping transport, like the agent's
    output gate, is looked through)."""
    seen = 0
    while not getattr(transport, "user", "") and hasattr(transport, "inner") and seen < 8:
        transport, seen = transport.inner, seen + 1  # type: ignore[attr-defined]
    return getattr(transport, "user", "") or ""


def shown(user: str) -> str:
    """A principal as log lines and reasons show it (bounded: it comes from outside)."""
    return repr(user if len(user) <= 64 else user[:64] + "...")


class SenderChecks:
    """Mix in before `Actor`; implement `sender_problem`."""

    def sender_problem(self, envelope: Envelope, user: str) -> str | None:  # pragma: no cover
        raise NotImplementedError

    def dispatch(self, envelope: Envelope, user_id: str | None = None) -> str | None:
        if user_id is not None:
            problem = self.sender_problem(envelope, user_id)
            if problem is not None:
                return self.refuse(envelope, problem)
        return super().dispatch(envelope, "" if user_id is None else user_id)  # type: ignore[misc]

    def refuse(self, envelope: Envelope, problem: str) -> str:
        counters: Any = self.counters  # type: ignore[attr-defined]
        counters["refused"] += 1
        address: str = self.address  # type: ignore[attr-defined]
        log.warning("%s: refusing %s %s: %s", address, envelope.type, envelope.id[:80], problem)
        return f"refused: {problem}"


def claims(envelope: Envelope, who: str, principal: str, user: str) -> str | None:
    """Why `envelope` (from `who`, whose principal is `principal`) was not published by it.

    An unknown `principal` ("": a transport that cannot say whom it publishes as, such as
    the one replay feeds recorded inputs through) checks nothing: every input replay gives
    was accepted when it was recorded (a refused message is never recorded as handled)."""
    if user == principal or not principal:
        return None
    return (
        f"{envelope.type} claims to be from {who!r}, whose principal is {shown(principal)}, "
        f"but was published by {shown(user)}"
    )


def from_self(actor: Any, envelope: Envelope, user: str) -> str | None:
    """A timer or a message an actor posts to itself: only from its own address and its
    own principal (in-process)."""
    if envelope.sender != actor.address:
        return f"{envelope.type} is a timer of {actor.address!r}: only it may send it, not {envelope.sender[:80]!r}"
    return claims(envelope, actor.address, own_principal(actor.transport), user)


def from_leader_or_self(actor: Any, envelope: Envelope, user: str, *, master_principal: str) -> str | None:
    """For agents, schedulers and executors' peers: what claims to be from the master must
    be published by the master's principal (its epoch too); everything else by this
    actor's own principal (its timers, its executors, its own posts)."""
    if envelope.sender == actor.leader_address:
        return claims(envelope, envelope.sender, master_principal, user)
    return claims(envelope, envelope.sender[:80], own_principal(actor.transport), user)
