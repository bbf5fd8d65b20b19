"""Records of the master's registry (what operators set and who was admitted), appended
to a replicated log before the master acts on them (actors/registry/).

Every record carries the leader epoch of the master that wrote it; a reader ignores any
record older than the newest `Elected` it has read (a deposed leader's late writes).
A `RegistrySnapshot` replaces everything read before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messages.addresses import REGISTRY  # noqa: F401  (the routing key the registry stream is bound to)
from messages.catalogue import message
from messages.resources import Resources
from messages.values import MachineId, MaintenanceWindow


# A master took the leader lock; its epoch is this record's position in the log + 1.
@message
@dataclass(frozen=True)
class Elected:
    holder: str
    nonce: str  # lets the writer find its own record when it reads the log back
    epoch: int = 0


# An agent was admitted (registered), or left the cluster cleanly (admitted=False).
@message
@dataclass(frozen=True)
class AgentAdmission:
    agent_id: str
    hostname: str = ""
    admitted: bool = True
    epoch: int = 0


# An operator marked an agent gone: it is never admitted again.
@message
@dataclass(frozen=True)
class AgentMarkedGone:
    agent_id: str
    epoch: int = 0


# Role weights set by an operator (roles not named keep theirs).
@message
@dataclass(frozen=True)
class WeightsSet:
    weights: dict[str, float]
    epoch: int = 0


# A role's quota limit (empty: none).
@message
@dataclass(frozen=True)
class QuotaSet:
    role: str
    limit: Resources
    epoch: int = 0


# An agent's dynamic reservations now (all of them: empty when none are left), and for
# each role reserved on it, the principals that made those reservations ("" for none):
# the objects of the ACL unreserve_resources.
@message
@dataclass(frozen=True)
class ReservationsSet:
    agent_id: str
    reservations: Resources
    epoch: int = 0
    reservers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> principals


# A framework was torn down (removed): its id may not register again.
@message
@dataclass(frozen=True)
class FrameworkTornDown:
    framework_id: str
    epoch: int = 0


# An operator deactivated an agent (DEACTIVATE_AGENT; `drain`: DRAIN_AGENT, its tasks are
# killed) or reactivated it (active=True): a new leader keeps it so.
@message
@dataclass(frozen=True)
class AgentActivation:
    agent_id: str
    active: bool
    drain: bool = False
    epoch: int = 0


# The maintenance schedule now (all of it).
@message
@dataclass(frozen=True)
class MaintenanceScheduleSet:
    windows: tuple[MaintenanceWindow, ...] = ()
    epoch: int = 0


# Machines went DOWN (down=True: their agents are refused) or came UP (and left the schedule).
@message
@dataclass(frozen=True)
class MachinesModeSet:
    machines: tuple[MachineId, ...]
    down: bool
    epoch: int = 0


# An agent or framework id was bound to the principal (broker user) that registered it: a
# later leader refuses another principal re-registering the id (actors/security/).
@message
@dataclass(frozen=True)
class PrincipalBound:
    kind: str  # "agent" or "framework"
    id: str
    principal: str
    epoch: int = 0


# Every binding, written right after each RegistrySnapshot (which does not carry them).
@message
@dataclass(frozen=True)
class PrincipalBindings:
    agents: dict[str, str] = field(default_factory=dict)  # agent id -> principal
    frameworks: dict[str, str] = field(default_factory=dict)  # framework id -> principal
    epoch: int = 0


# Everything above, folded: start-up reads from here on.
@message
@dataclass(frozen=True)
class RegistrySnapshot:
    admitted: dict[str, str] = field(default_factory=dict)  # agent id -> hostname
    gone: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    quota: dict[str, Resources] = field(default_factory=dict)
    reservations: dict[str, Resources] = field(default_factory=dict)
    torn_down: tuple[str, ...] = ()
    epoch: int = 0
    deactivated: dict[str, bool] = field(default_factory=dict)  # agent id -> draining
    schedule: tuple[MaintenanceWindow, ...] = ()
    down: tuple[MachineId, ...] = ()
    reservers: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # agent id -> role -> principals
