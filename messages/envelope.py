"""The envelope every message travels in (design.md §3).

>>> from messages.agent import PongAgent
>>> env = Envelope(id="m1", sender="agent.a1", target="master", body=PongAgent("a1"))
>>> env.type
'PongAgent'
"""

from __future__ import annotations

from typing import Any, NamedTuple

FORMAT_VERSION = 1


class Envelope(NamedTuple):
    """Immutable; a NamedTuple rather than a frozen dataclass because one is built for
    every message sent and received, and a tuple is built several times faster.
    `envelope._replace(sender=...)` makes a changed copy."""

    id: str  # unique per message
    sender: str  # the sending actor's address
    target: str  # the receiving actor's address (the routing key)
    body: Any  # a catalogue message
    correlation_id: str = ""  # for a reply: the id of the ask it answers
    causation_id: str = ""  # the id of the message whose handling sent this one
    epoch: int = 0  # the leader epoch of a master-sent message
    sent_at: float = 0.0  # the sender's clock, seconds since the epoch
    version: int = FORMAT_VERSION

    @property
    def type(self) -> str:
        return type(self.body).__name__
