"""The master's timer messages: what it sends itself with `delay` (pings, heartbeat
checks, failover and offer timeouts).

Importing this module registers them in the catalogue (the codec looks types up by
name), so `actors.master` imports it; `messages/__init__.py` should import it too.

Each timer carries a `token`: the generation of the record it was set for, so a timer
that fired just before it was cancelled (and is already in the mailbox) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from messages.catalogue import message


# master -> itself: time to ping this agent (and to count the last ping as missed if no
# pong came back since).
@message
@dataclass(frozen=True)
class AgentPingTimer:
    agent_id: str
    token: int = 0


# master -> itself: has this framework been silent for too long? (heartbeat check)
@message
@dataclass(frozen=True)
class FrameworkHeartbeatTimer:
    framework_id: str
    token: int = 0


# master -> itself: this disconnected framework's failover timeout passed; remove it.
@message
@dataclass(frozen=True)
class FrameworkFailoverTimer:
    framework_id: str
    token: int = 0


# master -> itself: this offer was outstanding for `offer_timeout`; rescind it.
@message
@dataclass(frozen=True)
class OfferTimer:
    offer_id: str
