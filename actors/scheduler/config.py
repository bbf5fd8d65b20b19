"""What `Scheduler.run` decides before the scheduler actor starts."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from actors.runtime import ActorContext, Transport
from actors.scheduler.idfile import IdFile
from messages import FrameworkInfo
from messages.addresses import MASTER

HEARTBEAT_INTERVAL = 5.0  # protocol.md: FrameworkHeartbeat every 5 s
MISSED_HEARTBEATS = 3  # no MasterHeartbeat for 3 intervals: the master is lost
BACKOFF_FIRST, BACKOFF_MAX = 2.0, 60.0  # registration retries: 2 s doubling to 60 s


@dataclass
class DriverConfig:
    transport: Transport
    context: ActorContext
    framework: FrameworkInfo  # framework_id always set: ids are proposed by the framework
    failover: bool  # the id was used before: re-register instead of register
    id_file: IdFile | None = None
    implicit_acknowledgements: bool = True
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    master: str = MASTER
    # The broker user the master publishes as; only it may speak as the master (offers,
    # updates, errors, epochs). "": the same user as this scheduler's own connection.
    master_principal: str = ""
    scheduler: Any = None  # the instance, once constructed (run() returns it in the handle)


# run() hands the config to Scheduler.__init__ through this, so that user subclasses can
# define their own __init__(self, my_args) and just call super().__init__().
_pending = threading.local()


def set_pending(config: DriverConfig | None) -> None:
    _pending.config = config


def take_pending() -> DriverConfig:
    config = getattr(_pending, "config", None)
    if config is None:
        raise TypeError("start a Scheduler with MyScheduler.run(url_or_cluster, ...), not directly")
    _pending.config = None
    return config
