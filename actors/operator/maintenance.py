"""Mesos' maintenance JSON: the schedule (`/master/maintenance/schedule`,
`UPDATE_MAINTENANCE_SCHEDULE`), machine ids (`/master/machine/down|up`,
`START_MAINTENANCE`/`STOP_MAINTENANCE`) and the status (`/master/maintenance/status`),
read with every field checked (a mistake is a `CallError`, HTTP 400) and written in
Mesos' shapes (empty lists left out, as protobuf's JSON does).

>>> windows = parse_schedule({"windows": [{"machine_ids": [{"hostname": "H1"}],
...     "unavailability": {"start": {"nanoseconds": 1}, "duration": {"nanoseconds": 2}}}]})
>>> schedule_json(windows)
{'windows': [{'machine_ids': [{'hostname': 'h1'}], 'unavailability': {'start': {'nanoseconds': 1}, 'duration': {'nanoseconds': 2}}}]}
>>> parse_machines([{"ip": "10.0.0.300"}])
Traceback (most recent call last):
...
actors.operator.writes.CallError: machines[0].ip: '10.0.0.300' is not an IP address
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from actors.master.maintenance import machine_json
from actors.operator.writes import CallError
from messages import MachineId, MaintenanceWindow, Unavailability

MAX_MACHINES = 10_000  # machine ids in one call
MAX_NANOS = 2**63 - 1
_HOST_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-._")


def parse_machine(value: Any, where: str) -> MachineId:
    if not isinstance(value, dict):
        raise CallError(f"{where}: expected {{\"hostname\": ..., \"ip\": ...}}, not {value!r:.80}")
    hostname, ip = value.get("hostname", ""), value.get("ip", "")
    if not isinstance(hostname, str) or not isinstance(ip, str):
        raise CallError(f"{where}: hostname and ip must be text")
    if not hostname and not ip:
        raise CallError(f"{where}: give a hostname or an ip (or both)")
    hostname = hostname.lower()  # as Mesos: hostnames compare case-insensitively
    if len(hostname) > 255 or not set(hostname) <= _HOST_CHARS:
        raise CallError(f"{where}.hostname: {hostname[:80]!r} is not a hostname")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise CallError(f"{where}.ip: {ip[:80]!r} is not an IP address") from None
    return MachineId(hostname, ip)


def parse_machines(value: Any, what: str = "machines") -> tuple[MachineId, ...]:
    """A list of MachineID objects (what /master/machine/down and /up take)."""
    if not isinstance(value, list) or not value:
        raise CallError(f"{what}: expected a non-empty list of {{\"hostname\": ..., \"ip\": ...}}")
    if len(value) > MAX_MACHINES:
        raise CallError(f"{what}: more than {MAX_MACHINES} machines")
    machines = tuple(parse_machine(v, f"{what}[{n}]") for n, v in enumerate(value))
    if len(set(machines)) != len(machines):
        raise CallError(f"{what}: a machine is named twice")
    return machines


def _nanos(value: Any, where: str) -> int:
    nanos = value.get("nanoseconds") if isinstance(value, dict) else None
    if isinstance(nanos, str) and re.fullmatch(r"-?[0-9]{1,19}", nanos):  # protobuf JSON's int64 (ASCII digits only)
        nanos = int(nanos)
    if isinstance(nanos, bool) or not isinstance(nanos, int) or abs(nanos) > MAX_NANOS:
        raise CallError(f"{where}: expected {{\"nanoseconds\": INTEGER}}")
    return nanos


def parse_schedule(value: Any, what: str = "schedule") -> tuple[MaintenanceWindow, ...]:
    """Mesos' maintenance Schedule: {"windows": [{"machine_ids": [...], "unavailability":
    {"start": {"nanoseconds": N}, "duration": {"nanoseconds": D}}}]}; {} clears it."""
    if not isinstance(value, dict):
        raise CallError(f'{what}: expected {{"windows": [...]}}')
    windows = value.get("windows", [])
    if not isinstance(windows, list):
        raise CallError(f"{what}.windows: expected a list")
    out = []
    for n, window in enumerate(windows):
        where = f"{what}.windows[{n}]"
        if not isinstance(window, dict):
            raise CallError(f"{where}: expected {{machine_ids, unavailability}}")
        machines = parse_machines(window.get("machine_ids"), f"{where}.machine_ids")
        given = window.get("unavailability")
        if not isinstance(given, dict):
            raise CallError(f"{where}.unavailability: expected {{start, duration}}")
        start = _nanos(given.get("start"), f"{where}.unavailability.start")
        duration = _nanos(given["duration"], f"{where}.unavailability.duration") if "duration" in given else None
        if duration is not None and duration < 0:
            raise CallError(f"{where}.unavailability.duration: must not be negative")
        out.append(MaintenanceWindow(machines, Unavailability(start, duration)))
    if sum(len(w.machines) for w in out) > MAX_MACHINES:
        raise CallError(f"{what}: more than {MAX_MACHINES} machines")
    return tuple(out)


def unavailability_json(u: Unavailability) -> dict[str, Any]:
    out: dict[str, Any] = {"start": {"nanoseconds": u.start_ns}}
    if u.duration_ns is not None:
        out["duration"] = {"nanoseconds": u.duration_ns}
    return out


def schedule_json(windows: tuple[MaintenanceWindow, ...]) -> dict[str, Any]:
    if not windows:
        return {}
    return {"windows": [{"machine_ids": [machine_json(m) for m in w.machines],
                         "unavailability": unavailability_json(w.unavailability)} for w in windows]}


def status_json(windows: tuple[MaintenanceWindow, ...], down: tuple[MachineId, ...]) -> dict[str, Any]:
    """Mesos' maintenance ClusterStatus (no inverse offers: no `statuses`)."""
    down_set = set(down)
    draining = [{"id": machine_json(m)} for w in windows for m in w.machines if m not in down_set]
    out: dict[str, Any] = {}
    if draining:
        out["draining_machines"] = draining
    if down:
        out["down_machines"] = [machine_json(m) for m in down]
    return out
