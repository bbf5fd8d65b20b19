"""Maintenance, as Mesos' maintenance primitives: a schedule of windows (machines and
when they will be unavailable), each machine UP, DRAINING (in the schedule) or DOWN.

    UP --schedule names it--> DRAINING --START_MAINTENANCE--> DOWN --STOP_MAINTENANCE--> UP

DRAINING: offers of its agents carry the window's `unavailability`. DOWN: its agents are
removed (told to shut down; their tasks TASK_LOST, TASK_GONE_BY_OPERATOR for
partition-aware frameworks) and refused until it is UP again. UP also takes it out of the
schedule. Every change is written to the registry before it is acted on; the registry's
state is the only copy (a new leader reads it back).

An agent is on a machine when the machine's hostname is the agent's (case-insensitive);
a machine named by IP only matches an agent whose hostname is that IP (agents do not
report their IP: docs/differences.md).

>>> from messages import MachineId, MaintenanceWindow, Unavailability
>>> window = MaintenanceWindow((MachineId("h1"),), Unavailability(10**18, 3600 * 10**9))
>>> unavailability_of((window,), "H1").start_ns, unavailability_of((window,), "h2")
(1000000000000000000, None)
>>> schedule_problem((window, window), {})
"machine {'hostname': 'h1'} appears more than once in the schedule"
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Iterable, Mapping

from actors.master.ports import Component, Ports
from messages import MachineId, MaintenanceWindow, Unavailability
from messages.registry import MachinesModeSet, MaintenanceScheduleSet

if TYPE_CHECKING:
    from actors.master.agents import AgentRecord, Agents
    from actors.master.offers import OfferBook

log = logging.getLogger(__name__)


def machine_json(machine: MachineId) -> dict[str, str]:
    """Mesos' MachineID JSON (empty fields left out)."""
    out = {}
    if machine.hostname:
        out["hostname"] = machine.hostname
    if machine.ip:
        out["ip"] = machine.ip
    return out


def on_machine(machine: MachineId, hostname: str) -> bool:
    if machine.hostname:
        return machine.hostname == hostname.lower()
    return bool(machine.ip) and machine.ip == hostname


def unavailability_of(schedule: tuple[MaintenanceWindow, ...], hostname: str) -> Unavailability | None:
    """The unavailability of the window naming the agent's machine (None: not scheduled)."""
    for window in schedule:
        for machine in window.machines:
            if on_machine(machine, hostname):
                return window.unavailability
    return None


def down_machine(down: Iterable[MachineId], hostname: str) -> MachineId | None:
    for machine in down:
        if on_machine(machine, hostname):
            return machine
    return None


def schedule_problem(windows: tuple[MaintenanceWindow, ...], down: Mapping[MachineId, None]) -> str | None:
    """Why this schedule cannot replace the current one (Mesos' checks), or None."""
    seen: set[MachineId] = set()
    for window in windows:
        if not window.machines:
            return "a maintenance window has no machines"
        if window.unavailability.duration_ns is not None and window.unavailability.duration_ns < 0:
            return f"the unavailability of {[machine_json(m) for m in window.machines]} has a negative duration"
        for machine in window.machines:
            if machine in seen:
                return f"machine {machine_json(machine)} appears more than once in the schedule"
            seen.add(machine)
    for machine in down:
        if machine not in seen:
            return f"machine {machine_json(machine)} is DOWN and cannot be removed from the schedule (bring it up)"
    return None


class Maintenance(Component):
    """The schedule and the machines' modes, carried out on the master's agents."""

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)

    def connect(self, *, agents: "Agents", offers: "OfferBook") -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.agents = agents
        self.offers = offers

    @property
    def schedule(self) -> tuple[MaintenanceWindow, ...]:
        return self.registry.state.schedule

    def update_schedule(self, windows: tuple[MaintenanceWindow, ...]) -> str | None:
        problem = schedule_problem(windows, self.registry.state.down)
        if problem:
            return problem
        before = self.registry.state.schedule
        self.registry.write(MaintenanceScheduleSet(tuple(windows)))
        # Outstanding offers of agents whose unavailability changed are rescinded: those
        # made again say what is scheduled now.
        for agent in self.agents.reachable():
            host = agent.info.hostname
            if unavailability_of(before, host) != unavailability_of(windows, host):
                for offer in self.offers.on_agent(agent.id):
                    self.offers.rescind(offer.offer_id)
        self.metrics["master/maintenance_schedule_updates"] += 1
        return None

    def start(self, machines: tuple[MachineId, ...]) -> str | None:
        """START_MAINTENANCE: DRAINING machines go DOWN; their agents are removed."""
        problem = self._mode_problem(machines, "DRAINING", "down")
        if problem:
            return problem
        self.registry.write(MachinesModeSet(tuple(machines), down=True))
        for agent in self._agents_on(machines):
            log.warning("master: agent %s (%s): its machine is DOWN for maintenance", agent.id, agent.info.hostname)
            self.agents.remove(agent.id, "machine is DOWN for maintenance", by_operator=True)
        self.metrics["master/machines_down"] += len(machines)
        return None

    def stop(self, machines: tuple[MachineId, ...]) -> str | None:
        """STOP_MAINTENANCE: DOWN machines are UP again, out of the schedule."""
        problem = self._mode_problem(machines, "DOWN", "up")
        if problem:
            return problem
        self.registry.write(MachinesModeSet(tuple(machines), down=False))
        self.metrics["master/machines_up"] += len(machines)
        return None

    def _mode_problem(self, machines: tuple[MachineId, ...], mode: str, going: str) -> str | None:
        """Why not every machine is in `mode` (Mesos' words), or None."""
        for machine in machines:
            now = self.registry.state.machine_mode(machine)
            if now == "UP":
                return f"machine {machine_json(machine)} is not part of a maintenance schedule"
            if now != mode:
                return f"machine {machine_json(machine)} is not in {mode} mode and cannot be brought {going}"
        return None

    def _agents_on(self, machines: tuple[MachineId, ...]) -> list["AgentRecord"]:
        return [a for a in self.agents.all() if any(on_machine(m, a.info.hostname) for m in machines)]
