"""Mesos 1.x JSON shapes of mesobus values (src/common/http.cpp's `model()` functions and
the master's `/state` writers): one function per kind of object, no I/O.

>>> from messages import Resources
>>> resources_json(Resources.parse("cpus:2;mem:1024;ports:[31000-32000]"))
{'cpus': 2.0, 'disk': 0.0, 'gpus': 0.0, 'mem': 1024.0, 'ports': '[31000-32000]'}

v0 endpoints say `slave_id`; `agent_key="agent_id"` gives the v1 spelling.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from actors.master.snapshot import AgentView, FrameworkView, OfferView, Snapshot, TaskView
from messages import Resources, TaskState
from messages.ids import COMMAND_EXECUTOR_ID

SCALARS = ("cpus", "disk", "gpus", "mem")


def resources_json(r: Resources) -> dict[str, Any]:
    """Flattened as Mesos does: every scalar summed by name (cpus, mem, disk, gpus always
    there), ranges as "[a-b, c-d]" text, sets as "{x, y}"."""
    out: dict[str, Any] = {name: 0.0 for name in SCALARS}
    for name, _role, value in r.items():
        if isinstance(value, int):
            out[name] = out.get(name, 0.0) + value / 1000
        elif isinstance(value, tuple):
            out[name] = "[" + ", ".join(f"{b}-{e}" for b, e in r.ranges(name)) + "]"
        else:
            out[name] = "{" + ", ".join(sorted(value)) + "}"
    return out


def resources_full(r: Resources) -> list[dict[str, Any]]:
    """The v1 `Resource` list (`*_resources_full`)."""
    out = []
    for name, role, value in r.items():
        item: dict[str, Any] = {"name": name}
        if isinstance(value, int):
            item.update(type="SCALAR", scalar={"value": value / 1000})
        elif isinstance(value, tuple):
            item.update(type="RANGES", ranges={"range": [{"begin": b, "end": e} for b, e in value]})
        else:
            item.update(type="SET", set={"item": sorted(value)})
        if role != "*":
            item["reservations"] = [{"type": "DYNAMIC", "role": role}]
        out.append(item)
    return out


def reserved_by_role(r: Resources) -> dict[str, dict[str, Any]]:
    return {role: resources_json(r.reserved(role)) for role in sorted(r.roles())}


def status_json(s, agent_key: str = "slave_id") -> dict[str, Any]:
    return {"state": s.state.value, "timestamp": s.timestamp, "source": s.source.value,
            "reason": s.reason.value, "message": s.message, agent_key: s.agent_id}


def task_json(t: TaskView, agent_key: str = "slave_id") -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.task_id,
        "name": t.name,
        "framework_id": t.framework_id,
        "executor_id": "" if t.executor_id == COMMAND_EXECUTOR_ID else t.executor_id,
        agent_key: t.agent_id,
        "state": t.state.value,
        "resources": resources_json(t.resources),
        "role": t.role,
        "statuses": [status_json(s, agent_key) for s in t.statuses],
    }
    if t.labels:
        out["labels"] = [{"key": k, "value": v} for k, v in t.labels]
    return out


def offer_json(o: OfferView, agent_key: str = "slave_id") -> dict[str, Any]:
    return {"id": o.offer_id, "framework_id": o.framework_id, agent_key: o.agent_id, "hostname": o.hostname,
            "resources": resources_json(o.resources), "allocation_info": {"role": o.role}}


def state_counts(tasks) -> dict[str, int]:
    """TASK_<STATE>: n for every state, as Mesos' summaries carry."""
    counts = Counter(t.state.value for t in tasks)
    return {s.value: counts.get(s.value, 0) for s in TaskState}


def framework_json(snap: Snapshot, f: FrameworkView, tasks: list[TaskView], done: list[TaskView],
                   offers: list[OfferView], *, detail: bool = True,
                   task_list: Callable[[list[TaskView]], Any] | None = None) -> dict[str, Any]:
    """`task_list` renders a list of tasks (default: a list of task_json)."""
    task_list = task_list or (lambda views: [task_json(t) for t in views])
    out: dict[str, Any] = {
        "id": f.framework_id,
        "name": f.name,
        "pid": f"scheduler-{f.framework_id}@{f.hostname or 'unknown'}",
        "used_resources": resources_json(snap.framework_used(f.framework_id)),
        "offered_resources": resources_json(snap.framework_offered(f.framework_id)),
        "capabilities": list(f.capabilities),
        "hostname": f.hostname,
        "webui_url": "",
        "active": f.active,
        "connected": f.connected,
        "recovered": f.recovered,
        **state_counts(tasks),
    }
    if not detail:
        return out
    out.update({
        "user": f.user,
        "principal": f.principal,
        "failover_timeout": f.failover_timeout,
        "checkpoint": f.checkpoint,
        "registered_time": f.registered_at,
        "reregistered_time": f.reregistered_at if f.reregistered_at is not None else f.registered_at,
        "unregistered_time": 0,
        "resources": resources_json(snap.framework_used(f.framework_id) + snap.framework_offered(f.framework_id)),
        "role": f.roles[0] if len(f.roles) == 1 else "*",
        "roles": list(f.roles),
        "tasks": task_list(tasks),
        "unreachable_tasks": task_list([t for t in tasks if t.state == TaskState.TASK_UNREACHABLE]),
        "completed_tasks": task_list(done),
        "offers": [offer_json(o) for o in offers],
        "executors": [],
    })
    return out


def agent_json(snap: Snapshot, a: AgentView, *, detail: bool = True) -> dict[str, Any]:
    used, offered = snap.agent_used(a.agent_id), snap.agent_offered(a.agent_id)
    out: dict[str, Any] = {
        "id": a.agent_id,
        "pid": f"slave({a.agent_id})@{a.hostname}:{a.port}",
        "hostname": a.hostname,
        "port": a.port,
        "registered_time": a.registered_at,
        "resources": resources_json(a.total),
        "used_resources": resources_json(used),
        "offered_resources": resources_json(offered),
        "reserved_resources": reserved_by_role(a.total),
        "unreserved_resources": resources_json(a.total.unreserved()),
        "attributes": dict(a.attributes),
        "active": a.reachable,
        "deactivated": a.deactivated,
        "version": a.version,
        "capabilities": [],
    }
    if a.reregistered_at is not None:
        out["reregistered_time"] = a.reregistered_at
    if detail:
        out.update({
            "reserved_resources_full": {role: resources_full(a.total.reserved(role)) for role in sorted(a.total.roles())},
            "unreserved_resources_full": resources_full(a.total.unreserved()),
            "used_resources_full": resources_full(used),
            "offered_resources_full": resources_full(offered),
        })
    return out


class Index:
    """The snapshot's tasks and offers grouped by framework and agent (built once per snapshot)."""

    def __init__(self, snap: Snapshot) -> None:
        self.tasks: dict[str, list[TaskView]] = {}
        self.done: dict[str, list[TaskView]] = {}
        self.offers: dict[str, list[OfferView]] = {}
        self.agent_tasks: dict[str, list[TaskView]] = {}
        self.agent_frameworks: dict[str, dict[str, None]] = {}
        for t in snap.tasks:
            self.tasks.setdefault(t.framework_id, []).append(t)
            self.agent_tasks.setdefault(t.agent_id, []).append(t)
            self.agent_frameworks.setdefault(t.agent_id, {})[t.framework_id] = None
        for t in snap.completed_tasks:
            self.done.setdefault(t.framework_id, []).append(t)
        for o in snap.offers:
            self.offers.setdefault(o.framework_id, []).append(o)
