"""Messages of the operator's HTTP API (actors/operator/) to the master it runs beside.

Weights and quota travel as the allocation catalogue's `WeightsUpdated`/`QuotaUpdated`,
sent to the master (which keeps them and forwards them to its allocator); the master
answers each operator write with an `OperatorAnswer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from messages.catalogue import message
from messages.resources import Resources
from messages.values import MachineId, MaintenanceWindow


# operator -> master: remove this framework and kill its tasks (TEARDOWN, /master/teardown).
@message
@dataclass(frozen=True)
class TeardownFramework:
    framework_id: str


# master -> operator: the answer to an operator's write: done, or why not (an HTTP 400).
@message
@dataclass(frozen=True)
class OperatorAnswer:
    ok: bool
    message: str = ""
    status: int = 0  # the HTTP status of a refusal (0: 400, a bad call)


# One entry of a sandbox directory (Mesos' /files/browse item).
@dataclass(frozen=True)
class SandboxEntry:
    path: str  # relative to the agent's work dir
    size: int
    mtime: float
    mode: str  # e.g. "-rw-r--r--", "drwxr-xr-x"
    nlink: int = 1
    uid: str = ""
    gid: str = ""


# master (its operator API) -> agent: list a sandbox directory, path relative to the work dir.
@message
@dataclass(frozen=True)
class ListSandbox:
    path: str


# agent -> master: the directory's entries (or the file's own, for a file), or why not.
@message
@dataclass(frozen=True)
class SandboxListing:
    entries: tuple[SandboxEntry, ...] = ()
    error: str = ""


# master (its operator API) -> agent: read at most `length` bytes of a sandbox file from
# `offset` (-1: just tell its size), path relative to the work dir.
@message
@dataclass(frozen=True)
class ReadSandboxFile:
    path: str
    offset: int = 0
    length: int = 65536


# agent -> master: the bytes read and the file's size now, or why not.
@message
@dataclass(frozen=True)
class SandboxFileData:
    data: bytes = b""
    size: int = 0
    offset: int = 0
    error: str = ""


# operator -> master: stop offering this agent's resources (DEACTIVATE_AGENT; with `drain`,
# DRAIN_AGENT: its tasks are killed too) or offer them again (`active`, REACTIVATE_AGENT).
@message
@dataclass(frozen=True)
class AgentMaintenance:
    agent_id: str
    active: bool
    drain: bool = False


# operator -> master: make part of an agent's unreserved resources reserved for the role
# they name (RESERVE_RESOURCES, /master/reserve); `principal` is the caller's, when the
# HTTP API knows it ("" otherwise), for the ACL `reserve_resources`.
@message
@dataclass(frozen=True)
class ReserveResources:
    agent_id: str
    resources: Resources
    principal: str = ""


# operator -> master: give dynamically reserved resources back to the unreserved pool
# (UNRESERVE_RESOURCES, /master/unreserve).
@message
@dataclass(frozen=True)
class UnreserveResources:
    agent_id: str
    resources: Resources
    principal: str = ""


# operator -> master: the whole maintenance schedule from now on (UPDATE_MAINTENANCE_SCHEDULE,
# POST /master/maintenance/schedule); machines in it and not DOWN are DRAINING.
@message
@dataclass(frozen=True)
class UpdateMaintenanceSchedule:
    windows: tuple[MaintenanceWindow, ...] = ()


# operator -> master: these DRAINING machines go DOWN (START_MAINTENANCE, /master/machine/down):
# their agents are removed and refused until the machines come UP.
@message
@dataclass(frozen=True)
class StartMaintenance:
    machines: tuple[MachineId, ...]


# operator -> master: these DOWN machines are UP again and leave the schedule
# (STOP_MAINTENANCE, /master/machine/up).
@message
@dataclass(frozen=True)
class StopMaintenance:
    machines: tuple[MachineId, ...]
