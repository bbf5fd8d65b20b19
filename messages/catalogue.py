"""The registry of message types by wire name (the role Mesos' .proto files play).

>>> from dataclasses import dataclass
>>> @message
... @dataclass(frozen=True)
... class Hello:
...     name: str
>>> lookup("Hello") is Hello
True
"""

from __future__ import annotations

from typing import TypeVar

from messages.errors import MessageError, shown

T = TypeVar("T", bound=type)

CATALOGUE: dict[str, type] = {}


def message(cls: T) -> T:
    """Register a frozen dataclass as a message; its class name is its wire name."""
    name = cls.__name__
    if CATALOGUE.get(name, cls) is not cls:
        raise TypeError(f"two messages are called {name}")
    CATALOGUE[name] = cls
    return cls


def lookup(name: str) -> type:
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        raise MessageError(f"unknown message type {shown(name)}", field="type") from None


def wire_name(msg: object) -> str:
    return type(msg).__name__
