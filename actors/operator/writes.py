"""The operator's writes, shared by the v1 API and the legacy endpoints: each is checked
here (a mistake is a `CallError`, an HTTP 400), sent to the master as a message and
answered once the master says it is done.

>>> parse_weights([{"role": "web", "weight": 2}])
{'web': 2.0}
>>> parse_weights([{"role": "web", "weight": -1}])
Traceback (most recent call last):
...
actors.operator.writes.CallError: weight of 'web': expected a positive number, not -1
"""

from __future__ import annotations

import itertools
import math
import os
import re
import time
from concurrent.futures import Future
from typing import Any

from actors.http.basic_auth import principal_of as authenticated_principal
from actors.operator.source import MasterSource
from messages import Envelope, MachineId, MaintenanceWindow, MarkAgentGone, QuotaUpdated, Resources, WeightsUpdated
from messages.addresses import MASTER
from messages.errors import ResourceError
from messages.ids import address_id_problem
from messages.operator import (
    AgentMaintenance,
    OperatorAnswer,
    ReserveResources,
    StartMaintenance,
    StopMaintenance,
    TeardownFramework,
    UnreserveResources,
    UpdateMaintenanceSchedule,
)

ANSWER_TIMEOUT = 10.0
_ROLE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")


class CallError(ValueError):
    """A bad operator call (HTTP 400), or one the master refused (`status`: 400, or 403
    for an ACL, 409 for resources that are not available)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Unavailable(RuntimeError):
    """No leading master to carry the call out (HTTP 503)."""


def master_sender(transport: Any, address: str = MASTER):
    """A `send(body, timeout)` for MasterSource.lead: a message to the master and a Future
    for its answer's envelope (through the transport's reply mailbox)."""
    ids, prefix = itertools.count(1), os.urandom(4).hex()

    def send(body: Any, timeout: float) -> "Future[Envelope]":
        envelope = Envelope(id=f"operator.{prefix}.{next(ids)}", sender="operator", target=address, body=body,
                            sent_at=time.time())
        return transport.ask(envelope, timeout)

    return send


def carry_out(source: MasterSource, body: Any) -> None:
    """Send one write to the master and wait for its answer (raises CallError/Unavailable)."""
    send = source.send
    if send is None:
        raise Unavailable("this master is not leading")
    try:
        reply = send(body, ANSWER_TIMEOUT).result(ANSWER_TIMEOUT + 1)
    except (TimeoutError, OSError) as err:
        raise Unavailable(f"the master did not answer: {err}") from None
    answer = reply.body
    if source.publisher is not None:
        source.publisher.expire()  # what the caller reads next shows its write
    if not isinstance(answer, OperatorAnswer):
        raise Unavailable(f"the master answered {type(answer).__name__}")
    if not answer.ok:
        raise CallError(answer.message, answer.status or 400)


def check_role(role: Any) -> str:
    if not isinstance(role, str) or not role or role in (".", "..") or role.startswith("-") \
            or not set(role) <= _ROLE_CHARS or len(role) > 128:
        raise CallError(f"role: expected a role name, not {role!r}")
    if role == "*":
        raise CallError("role: '*' cannot be given a weight or a quota")
    return role


def parse_weights(items: Any) -> dict[str, float]:
    """[{"role": "web", "weight": 2.0}, ...] (Mesos' WeightInfo list)."""
    if not isinstance(items, list) or not items:
        raise CallError("weight_infos: expected a non-empty list of {role, weight}")
    out: dict[str, float] = {}
    for item in items:
        if not isinstance(item, dict):
            raise CallError(f"weight_infos: expected {{role, weight}}, not {item!r}")
        role = check_role(item.get("role"))
        weight = item.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise CallError(f"weight of {role!r}: expected a positive number, not {weight!r}")
        out[role] = float(weight)
    return out


def parse_quota_config(config: Any) -> tuple[str, Resources]:
    """{"role": "dev", "limits": {"cpus": {"value": 4}}} (Mesos' QuotaConfig; `guarantees`
    are taken as limits too: mesobus has limits only)."""
    if not isinstance(config, dict):
        raise CallError(f"quota_configs: expected {{role, limits}}, not {config!r}")
    role = check_role(config.get("role"))
    amounts: dict[str, float] = {}
    for key in ("guarantees", "limits"):
        given = config.get(key, {})
        if not isinstance(given, dict):
            raise CallError(f"{key} of {role!r}: expected {{name: {{value: N}}}}")
        for name, value in given.items():
            number = value.get("value") if isinstance(value, dict) else value
            if name not in ("cpus", "mem", "disk", "gpus"):
                raise CallError(f"{key} of {role!r}: {name!r} is not a scalar resource (cpus, mem, disk, gpus)")
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) or number < 0:
                raise CallError(f"{key} of {role!r}: {name} must be a number >= 0, not {number!r}")
            amounts[name] = float(number)
    return role, Resources.scalars(**amounts)


def update_weights(source: MasterSource, weights: dict[str, float]) -> None:
    carry_out(source, WeightsUpdated(weights))


def update_quota(source: MasterSource, role: str, limit: Resources) -> None:
    carry_out(source, QuotaUpdated(role, limit))


def teardown(source: MasterSource, framework_id: Any) -> None:
    problem = address_id_problem("framework_id", framework_id) if isinstance(framework_id, str) else "framework_id: expected text"
    if problem is not None:
        raise CallError(problem)
    carry_out(source, TeardownFramework(framework_id))


def maintain(source: MasterSource, agent_id: Any, *, active: bool, drain: bool = False) -> None:
    problem = address_id_problem("agent_id", agent_id) if isinstance(agent_id, str) else "agent_id: expected text"
    if problem is not None:
        raise CallError(problem)
    carry_out(source, AgentMaintenance(agent_id, active, drain))


def mark_gone(source: MasterSource, agent_id: Any) -> None:
    """MARK_AGENT_GONE: written to the registry; its tasks become TASK_GONE_BY_OPERATOR and
    the agent is never admitted again."""
    problem = address_id_problem("agent_id", agent_id) if isinstance(agent_id, str) else "agent_id: expected text"
    if problem is not None:
        raise CallError(problem)
    carry_out(source, MarkAgentGone(agent_id))


MAX_RESOURCE_ITEMS = 1024  # Resource objects in one call
# What Mesos' text form can carry unambiguously (the parts are joined into that form).
_RESOURCE_NAME = re.compile(r"^[A-Za-z_][\w.\-]{0,127}$")
_SET_ITEM = re.compile(r"^[^,;:(){}\s\[\]]{1,256}$")


def parse_resources(items: Any, what: str = "resources") -> Resources:
    """Mesos' JSON Resource list: [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
    "reservations": [{"type": "DYNAMIC", "role": "web"}]}, ...]; the role may also be given
    as Mesos before 1.4 did (`"role": "web"`). Ranges: {"ranges": {"range": [{"begin", "end"}]}},
    sets: {"set": {"item": [...]}}. With refined reservations the last one's role counts.

    >>> str(parse_resources([{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}, "role": "web"}]))
    'cpus(web):2'
    """
    if not isinstance(items, list) or not items:
        raise CallError(f"{what}: expected a non-empty list of Resource objects")
    if len(items) > MAX_RESOURCE_ITEMS:
        raise CallError(f"{what}: more than {MAX_RESOURCE_ITEMS} Resource objects")
    total = Resources()
    for n, item in enumerate(items):
        where = f"{what}[{n}]"
        if not isinstance(item, dict):
            raise CallError(f"{where}: expected a Resource object, not {item!r:.80}")
        name = item.get("name")
        if not isinstance(name, str) or not _RESOURCE_NAME.match(name):
            raise CallError(f"{where}: expected a resource \"name\" (letters, digits, _ . -), not {name!r:.80}")
        role = _resource_role(item, where)
        label = name if role == "*" else f"{name}({role})"
        try:
            total = total + Resources.parse(f"{label}:{_resource_value(item, where)}")
        except ResourceError as err:
            raise CallError(f"{where}: {err}") from None
    return total


def _resource_role(item: dict, where: str) -> str:
    reservations = item.get("reservations")
    role = item.get("role", "*")
    if reservations is not None:
        if not isinstance(reservations, list) or not all(isinstance(r, dict) for r in reservations):
            raise CallError(f"{where}.reservations: expected a list of {{type, role}}")
        if reservations:
            last = reservations[-1]
            if last.get("type", "DYNAMIC") != "DYNAMIC":
                raise CallError(f"{where}.reservations: only DYNAMIC reservations can be made or removed")
            role = last.get("role")
    if role != "*":
        check_role(role)
    return role


def _resource_value(item: dict, where: str) -> str:
    kind = item.get("type") or next((k.upper() for k in ("scalar", "ranges", "set") if k in item), "")
    if kind == "SCALAR":
        value = (item.get("scalar") or {}).get("value") if isinstance(item.get("scalar"), dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise CallError(f"{where}: scalar.value must be a number >= 0, not {value!r:.40}")
        return f"{float(value):.3f}"  # Mesos keeps scalars to three decimals too
    if kind == "RANGES":
        ranges = item.get("ranges")
        spans = ranges.get("range") if isinstance(ranges, dict) else None
        if not isinstance(spans, list) or not all(isinstance(r, dict) for r in spans):
            raise CallError(f"{where}: ranges.range must be a list of {{begin, end}}")
        parts = []
        for span in spans:
            begin, end = span.get("begin"), span.get("end")
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (begin, end)):
                raise CallError(f"{where}: a range's begin and end must be integers >= 0")
            parts.append(f"{begin}-{end}")
        return "[" + ",".join(parts) + "]"
    if kind == "SET":
        given = item.get("set")
        values = given.get("item") if isinstance(given, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) and _SET_ITEM.match(v) for v in values):
            raise CallError(f"{where}: set.item must be a list of text without , ; : ( ) {{ }} or spaces")
        return "{" + ",".join(values) + "}"
    raise CallError(f"{where}: type must be SCALAR, RANGES or SET, not {kind!r:.40}")


def reserve(source: MasterSource, agent_id: Any, resources: Resources, principal: str = "") -> None:
    """RESERVE_RESOURCES: `resources` (each reserved for a role) of the agent's unreserved ones."""
    carry_out(source, ReserveResources(_agent_id(agent_id), resources, principal))


def unreserve(source: MasterSource, agent_id: Any, resources: Resources, principal: str = "") -> None:
    carry_out(source, UnreserveResources(_agent_id(agent_id), resources, principal))


def update_schedule(source: MasterSource, windows: tuple[MaintenanceWindow, ...]) -> None:
    carry_out(source, UpdateMaintenanceSchedule(windows))


def machines_down(source: MasterSource, machines: tuple[MachineId, ...]) -> None:
    carry_out(source, StartMaintenance(machines))


def machines_up(source: MasterSource, machines: tuple[MachineId, ...]) -> None:
    carry_out(source, StopMaintenance(machines))


def _agent_id(agent_id: Any) -> str:
    problem = address_id_problem("agent_id", agent_id) if isinstance(agent_id, str) else "agent_id: expected text"
    if problem is not None:
        raise CallError(problem)
    return agent_id


def principal_of(request: Any) -> str:
    """The caller's principal when the HTTP layer authenticated one (actors/http/basic_auth.py),
    else "" (no ACL applies)."""
    return authenticated_principal(request.scope) or ""
