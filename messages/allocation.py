"""Messages between the master and its allocator (both in the master's process, each with
its own mailbox, so the allocator's input can be journaled and replayed alone)."""

from __future__ import annotations

from dataclasses import dataclass, field

from messages.catalogue import message
from messages.resources import Resources


# master -> allocator: an agent joined (or rejoined) with these total resources.
@message
@dataclass(frozen=True)
class AgentAdded:
    agent_id: str
    total: Resources
    hostname: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    used: tuple["AllocationEntry", ...] = ()


# master -> allocator: an agent's total changed (dynamic reservation, new resources);
# `recovered`: offers the master rescinded to make room, given back first in one step.
@message
@dataclass(frozen=True)
class AgentUpdated:
    agent_id: str
    total: Resources
    recovered: tuple["AllocationEntry", ...] = ()


# master -> allocator: an agent is gone; forget its resources.
@message
@dataclass(frozen=True)
class AgentRemoved:
    agent_id: str


# master -> allocator: a framework joined, perhaps with resources it already uses.
@message
@dataclass(frozen=True)
class FrameworkAdded:
    framework_id: str
    roles: tuple[str, ...]
    active: bool = True
    used: tuple["AllocationEntry", ...] = ()


# master -> allocator: a framework left; its allocations come back.
@message
@dataclass(frozen=True)
class FrameworkRemoved:
    framework_id: str


# master -> allocator: a framework (re)connected and wants offers again.
@message
@dataclass(frozen=True)
class FrameworkActivated:
    framework_id: str


# master -> allocator: a framework disconnected; offer it nothing until it is back.
@message
@dataclass(frozen=True)
class FrameworkDeactivated:
    framework_id: str


# master -> allocator: resources come back (declined, unused, rescinded or freed by a task);
# with `refuse_seconds` set, the framework is not offered them again for that long.
@message
@dataclass(frozen=True)
class ResourcesRecovered:
    framework_id: str
    agent_id: str
    role: str
    resources: Resources
    refuse_seconds: float | None = None


# master -> allocator: stop offers to a framework for these roles (empty = all its roles).
@message
@dataclass(frozen=True)
class OffersSuppressed:
    framework_id: str
    roles: tuple[str, ...] = ()


# master -> allocator: resume offers and clear filters for these roles (empty = all).
@message
@dataclass(frozen=True)
class OffersRevived:
    framework_id: str
    roles: tuple[str, ...] = ()


# operator -> master -> allocator: new role weights (roles not named keep theirs). The
# master writes them to its registry first, so a new leader starts with them.
@message
@dataclass(frozen=True)
class WeightsUpdated:
    weights: dict[str, float]


# operator -> master -> allocator: a role's quota limit (empty resources = no limit);
# kept in the master's registry like the weights.
@message
@dataclass(frozen=True)
class QuotaUpdated:
    role: str
    limit: Resources


# operator -> master: the agent is gone for good (Mesos' MARK_AGENT_GONE): its tasks
# become TASK_GONE_BY_OPERATOR, it is shut down and never admitted again (registry).
@message
@dataclass(frozen=True)
class MarkAgentGone:
    agent_id: str


# One framework's share of one agent for one role.
@dataclass(frozen=True)
class AllocationEntry:
    framework_id: str
    agent_id: str
    role: str
    resources: Resources


# allocator -> master: the result of one allocation run, to be turned into offers.
@message
@dataclass(frozen=True)
class ResourcesAllocated:
    allocations: tuple[AllocationEntry, ...]
    run: int = 0


# allocator -> itself: time for a batch allocation run.
@message
@dataclass(frozen=True)
class AllocationTick:
    pass


# master -> allocator: a RESERVE/UNRESERVE converted `old` (held by the framework on the
# agent for the role, as part of an offer) into `new` of the same amounts; the agent's
# total changes the same way.
@message
@dataclass(frozen=True)
class AllocationUpdated:
    framework_id: str
    agent_id: str
    role: str
    old: Resources
    new: Resources
