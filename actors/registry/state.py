"""The registry's state: a fold of its records (pure, no I/O).

>>> from messages.registry import AgentAdmission, AgentMarkedGone
>>> s = RegistryState()
>>> s.apply(AgentAdmission("a1", "h1")); s.apply(AgentMarkedGone("a1"))
>>> s.admitted, list(s.gone)
({}, ['a1'])
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from messages import MachineId, MaintenanceWindow, Resources
from messages.registry import (
    AgentActivation,
    AgentAdmission,
    AgentMarkedGone,
    MachinesModeSet,
    MaintenanceScheduleSet,
    FrameworkTornDown,
    PrincipalBindings,
    PrincipalBound,
    QuotaSet,
    RegistrySnapshot,
    ReservationsSet,
    WeightsSet,
)

MAX_TORN_DOWN = 10_000  # framework ids remembered (the oldest are forgotten first)
MAX_GONE = 100_000  # agent ids marked gone
MAX_BINDINGS = 100_000  # principals of agent / framework ids remembered (the oldest first forgotten)


@dataclass
class RegistryState:
    admitted: dict[str, str] = field(default_factory=dict)  # agent id -> hostname
    gone: OrderedDict[str, None] = field(default_factory=OrderedDict)
    weights: dict[str, float] = field(default_factory=dict)
    quota: dict[str, Resources] = field(default_factory=dict)
    reservations: dict[str, Resources] = field(default_factory=dict)  # agent id -> dynamic ones
    reservers: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # agent id -> role -> principals
    torn_down: OrderedDict[str, None] = field(default_factory=OrderedDict)
    deactivated: dict[str, bool] = field(default_factory=dict)  # agent id -> draining
    schedule: tuple[MaintenanceWindow, ...] = ()  # the maintenance schedule
    down: dict[MachineId, None] = field(default_factory=dict)  # machines in DOWN mode
    agent_principals: OrderedDict[str, str] = field(default_factory=OrderedDict)  # agent id -> principal
    framework_principals: OrderedDict[str, str] = field(default_factory=OrderedDict)  # framework id -> principal

    def machine_mode(self, machine: MachineId) -> str:
        """UP, DRAINING (in the schedule) or DOWN, as Mesos' MachineInfo.Mode."""
        if machine in self.down:
            return "DOWN"
        if any(machine in w.machines for w in self.schedule):
            return "DRAINING"
        return "UP"

    def apply(self, record: object) -> None:
        """Fold one record in (unknown kinds are ignored: a newer writer's)."""
        if isinstance(record, AgentAdmission):
            if record.admitted:
                self.admitted[record.agent_id] = record.hostname
            else:
                self.admitted.pop(record.agent_id, None)
        elif isinstance(record, AgentMarkedGone):
            self.admitted.pop(record.agent_id, None)
            self.reservations.pop(record.agent_id, None)
            self.reservers.pop(record.agent_id, None)
            self.deactivated.pop(record.agent_id, None)
            _remember(self.gone, record.agent_id, MAX_GONE)
        elif isinstance(record, WeightsSet):
            self.weights.update(record.weights)
        elif isinstance(record, QuotaSet):
            if record.limit.is_empty():
                self.quota.pop(record.role, None)
            else:
                self.quota[record.role] = record.limit
        elif isinstance(record, ReservationsSet):
            if record.reservations.is_empty():
                self.reservations.pop(record.agent_id, None)
            else:
                self.reservations[record.agent_id] = record.reservations
            if record.reservers:
                self.reservers[record.agent_id] = dict(record.reservers)
            else:
                self.reservers.pop(record.agent_id, None)
        elif isinstance(record, FrameworkTornDown):
            _remember(self.torn_down, record.framework_id, MAX_TORN_DOWN)
        elif isinstance(record, AgentActivation):
            if record.active:
                self.deactivated.pop(record.agent_id, None)
            else:
                self.deactivated[record.agent_id] = record.drain
        elif isinstance(record, MaintenanceScheduleSet):
            self.schedule = tuple(record.windows)
        elif isinstance(record, MachinesModeSet):
            if record.down:
                self.down.update(dict.fromkeys(record.machines))
            else:  # UP: out of DOWN and out of the schedule (an emptied window goes too)
                for machine in record.machines:
                    self.down.pop(machine, None)
                windows = []
                for window in self.schedule:
                    left = tuple(m for m in window.machines if m not in record.machines)
                    if left:
                        windows.append(MaintenanceWindow(left, window.unavailability))
                self.schedule = tuple(windows)
        elif isinstance(record, PrincipalBound):
            bindings = self.agent_principals if record.kind == "agent" else self.framework_principals
            _remember(bindings, record.id, MAX_BINDINGS, record.principal)
        elif isinstance(record, PrincipalBindings):
            self.agent_principals = OrderedDict(record.agents)
            self.framework_principals = OrderedDict(record.frameworks)
        elif isinstance(record, RegistrySnapshot):
            self.admitted = dict(record.admitted)
            self.gone = OrderedDict.fromkeys(record.gone)
            self.weights = dict(record.weights)
            self.quota = dict(record.quota)
            self.reservations = dict(record.reservations)
            self.reservers = {a: dict(r) for a, r in record.reservers.items()}
            self.torn_down = OrderedDict.fromkeys(record.torn_down)
            self.deactivated = dict(record.deactivated)
            self.schedule = tuple(record.schedule)
            self.down = dict.fromkeys(record.down)

    def snapshot(self, epoch: int = 0) -> RegistrySnapshot:
        return RegistrySnapshot(
            admitted=dict(self.admitted),
            gone=tuple(self.gone),
            weights=dict(self.weights),
            quota=dict(self.quota),
            reservations=dict(self.reservations),
            torn_down=tuple(self.torn_down),
            epoch=epoch,
            deactivated=dict(self.deactivated),
            schedule=self.schedule,
            down=tuple(self.down),
            reservers={a: dict(r) for a, r in self.reservers.items()},
        )


    def bindings(self, epoch: int = 0) -> PrincipalBindings:
        return PrincipalBindings(dict(self.agent_principals), dict(self.framework_principals), epoch)


def _remember(ids: OrderedDict, key: str, limit: int, value: object = None) -> None:
    ids.pop(key, None)
    ids[key] = value
    while len(ids) > limit:
        ids.popitem(last=False)
