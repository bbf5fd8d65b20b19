"""What the master's components (agents.py, frameworks.py, offers.py, updates.py,
launch.py, readmit.py) are given instead of the whole actor: `MasterIO`, the effects a
handler may have (send, reply, time, ids, timers), and `Ports`, the master's shared
settings and records. Each component names the other components it works with in its
`connect(...)`, so what it depends on is written in one place.

>>> from collections import Counter
>>> from actors.master.config import MasterConfig
>>> ports = Ports(io=None, config=MasterConfig(), metrics=Counter(), registry=None, master_info=None)
>>> ports.config.address
'master'
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from actors.master.config import MasterConfig

if TYPE_CHECKING:
    from actors.registry import Registry
    from messages import Envelope, MasterInfo


class MasterIO(Protocol):
    """The effects of the handler being run (the Master actor provides them)."""

    def send(self, target: str, body: Any) -> "Envelope": ...

    def reply(self, body: Any) -> "Envelope": ...

    def now(self) -> float: ...

    def new_id(self) -> str: ...

    def delay(self, seconds: float, body: Any) -> str: ...

    def cancel(self, timer_id: str) -> None: ...


@dataclass(frozen=True)
class Ports:
    io: MasterIO
    config: MasterConfig
    metrics: Counter[str]
    registry: "Registry"
    master_info: "MasterInfo"


class Component:
    """Base of the master's components: the ports, as attributes."""

    def __init__(self, ports: Ports) -> None:
        self.io = ports.io
        self.config = ports.config
        self.metrics = ports.metrics
        self.registry = ports.registry
        self.master_info = ports.master_info
