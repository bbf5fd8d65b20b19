"""Journal records: what actors write about themselves so a run can be explained and
replayed (design.md §6). They travel like messages, to the journal only (never to a
mailbox): target `journal`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from messages.addresses import JOURNAL  # noqa: F401  (the target address of journal records)
from messages.catalogue import message


# actor -> journal: an actor incarnation started; what replay needs to rebuild it.
@message
@dataclass(frozen=True)
class ActorStarted:
    address: str
    kind: str  # "master", "allocator", "agent": which factory rebuilds it
    id_prefix: str  # its IdSource prefix: replayed ids come out the same
    seed: int  # its random seed
    started_at: float
    config: dict[str, Any] = field(default_factory=dict)


# actor -> journal: the order in which it handled its inputs, each handling's time, and
# the principal that published each (as the transport verified it: `Delivery.user_id`;
# for a timer, the actor's own), so that replay dispatches with the same `sender_user`.
# Inputs include the actor's timers, journaled as messages to itself when handled.
@message
@dataclass(frozen=True)
class InputsHandled:
    address: str
    ids: tuple[str, ...]
    times: tuple[float, ...]
    users: tuple[str, ...] = ()  # empty in records written before users were kept


# One framework passed over on some agents in an allocation run, and why (grouped by
# framework, role, reason and filter expiry, so a run over many agents stays small).
@dataclass(frozen=True)
class Skip:
    framework_id: str
    role: str
    reason: str  # "filtered", "suppressed", "quota", "nothing allocatable", "inactive"
    agents: tuple[str, ...] = ()
    until: float | None = None  # for "filtered": when the filter expires


# allocator -> journal: the reasons behind one allocation run's decisions.
@message
@dataclass(frozen=True)
class AllocationExplained:
    run: int
    at: float
    allocated: tuple[str, ...] = ()  # "framework_id@agent_id/role"
    skipped: tuple[Skip, ...] = ()


# transport -> journal: copies of what one process published, in its send order, batched
# so that the journal costs the broker one message per batch instead of one per message.
@message
@dataclass(frozen=True)
class PublishedBatch:
    messages: tuple[bytes, ...]
    user: str = ""  # the principal that published them (the broker connection's user)


def unbatch(envelope: Any, warn: Callable[[str], None]) -> Iterator[Any]:
    """A journal record as the messages it holds: a `PublishedBatch` (a broker transport's
    copies of what it published) becomes its messages, each decoded (one that does not
    decode is skipped and `warn` is told); any other record is itself."""
    from messages.codec import decode  # the codec imports the catalogue, which imports this module
    from messages.errors import MessageError

    if not isinstance(envelope.body, PublishedBatch):
        yield envelope
        return
    for body in envelope.body.messages:
        try:
            yield decode(body)
        except MessageError as err:
            warn(f"journal: skipping a published message that does not decode: {err}")
