"""The actor runtime: the base actor, clocks, contexts and transports."""

from actors.runtime.actor import Actor, on
from actors.runtime.clock import Clock, RealClock, TimerHandle, VirtualClock
from actors.runtime.context import ActorContext, IdSource
from actors.runtime.deaths import ActorDeaths, actor_deaths
from actors.runtime.memory import MemoryTransport
from actors.runtime.transport import (
    DEAD_LETTERS,
    AccessRefused,
    DeadLetter,
    Delivery,
    ReplyRouter,
    Transport,
    TransportError,
    group_address,
)

__all__ = [
    "AccessRefused",
    "Actor",
    "ActorContext",
    "ActorDeaths",
    "Clock",
    "DEAD_LETTERS",
    "DeadLetter",
    "Delivery",
    "IdSource",
    "MemoryTransport",
    "RealClock",
    "ReplyRouter",
    "TimerHandle",
    "Transport",
    "TransportError",
    "VirtualClock",
    "actor_deaths",
    "group_address",
    "on",
]
