"""Mesos' v1 operator API shapes (include/mesos/v1/master/master.proto, mesos.proto): ids
are `{"value": ...}`, times `{"nanoseconds": ...}`, resources lists of `Resource`, and
agents are agents.

>>> id_json("a1"), time_json(1.5)
({'value': 'a1'}, {'nanoseconds': 1500000000})
"""

from __future__ import annotations

from typing import Any

from actors.master.snapshot import AgentView, FrameworkView, Snapshot, TaskView
from actors.operator.shapes import resources_full
from messages.ids import COMMAND_EXECUTOR_ID


def id_json(value: str) -> dict[str, str]:
    return {"value": value}


def time_json(seconds: float | None) -> dict[str, int]:
    return {"nanoseconds": int(round((seconds or 0.0) * 1e9))}


def status_v1(s) -> dict[str, Any]:
    out = {"task_id": id_json(s.task_id), "state": s.state.value, "source": s.source.value,
           "reason": s.reason.value, "message": s.message, "timestamp": s.timestamp}
    if s.agent_id:
        out["agent_id"] = id_json(s.agent_id)
    if s.uuid:
        out["uuid"] = s.uuid
    return out


def task_v1(t: TaskView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": t.name,
        "task_id": id_json(t.task_id),
        "framework_id": id_json(t.framework_id),
        "agent_id": id_json(t.agent_id),
        "state": t.state.value,
        "resources": resources_full(t.resources),
        "statuses": [status_v1(s) for s in t.statuses],
        "role": t.role,
    }
    if t.executor_id and t.executor_id != COMMAND_EXECUTOR_ID:
        out["executor_id"] = id_json(t.executor_id)
    if t.labels:
        out["labels"] = {"labels": [{"key": k, "value": v} for k, v in t.labels]}
    return out


def agent_v1(snap: Snapshot, a: AgentView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "agent_info": {"hostname": a.hostname, "port": a.port, "id": id_json(a.agent_id),
                       "resources": resources_full(a.total),
                       "attributes": [{"name": k, "type": "TEXT", "text": {"value": v}} for k, v in a.attributes]},
        "active": a.reachable,
        "deactivated": a.deactivated,
        "version": a.version,
        "pid": f"slave({a.agent_id})@{a.hostname}:{a.port}",
        "registered_time": time_json(a.registered_at),
        "total_resources": resources_full(a.total),
        "allocated_resources": resources_full(snap.agent_used(a.agent_id)),
        "offered_resources": resources_full(snap.agent_offered(a.agent_id)),
        "capabilities": [],
    }
    if a.reregistered_at is not None:
        out["reregistered_time"] = time_json(a.reregistered_at)
    return out


def framework_v1(snap: Snapshot, f: FrameworkView) -> dict[str, Any]:
    info: dict[str, Any] = {"user": f.user, "name": f.name, "id": id_json(f.framework_id),
                            "failover_timeout": f.failover_timeout, "checkpoint": f.checkpoint,
                            "roles": list(f.roles), "hostname": f.hostname,
                            "capabilities": [{"type": c} for c in f.capabilities]}
    if f.principal:
        info["principal"] = f.principal
    if len(f.roles) > 1 or "MULTI_ROLE" in f.capabilities:
        info["capabilities"].append({"type": "MULTI_ROLE"})
    else:
        info["role"] = f.roles[0] if f.roles else "*"
    return {
        "framework_info": info,
        "active": f.active,
        "connected": f.connected,
        "recovered": f.recovered,
        "registered_time": time_json(f.registered_at),
        "reregistered_time": time_json(f.reregistered_at if f.reregistered_at is not None else f.registered_at),
        "allocated_resources": resources_full(snap.framework_used(f.framework_id)),
        "offered_resources": resources_full(snap.framework_offered(f.framework_id)),
    }


def get_tasks(snap: Snapshot) -> dict[str, Any]:
    return {"pending_tasks": [], "tasks": [task_v1(t) for t in snap.tasks],
            "unreachable_tasks": [], "completed_tasks": [task_v1(t) for t in snap.completed_tasks]}


def get_agents(snap: Snapshot) -> dict[str, Any]:
    return {"agents": [agent_v1(snap, a) for a in snap.agents], "recovered_agents": []}


def get_frameworks(snap: Snapshot) -> dict[str, Any]:
    return {"frameworks": [framework_v1(snap, f) for f in snap.frameworks],
            "completed_frameworks": [{"framework_info": {"id": id_json(f.get("id", "")), "name": f.get("name", ""),
                                                         "user": f.get("user", ""), "roles": f.get("roles", [])},
                                      "active": False, "connected": False, "recovered": False}
                                     for f in snap.completed_frameworks]}


def get_executors(snap: Snapshot) -> dict[str, Any]:
    """Every executor the master knows of, by agent (what the snapshot keeps of each: no
    command or container). Mesos' `orphan_executors` is always empty since 1.3."""
    executors = []
    for a in snap.agents:
        for framework_id, executor_id, resources in a.executors:
            info: dict[str, Any] = {"executor_id": id_json(executor_id), "framework_id": id_json(framework_id),
                                    "resources": resources_full(resources)}
            if executor_id != COMMAND_EXECUTOR_ID:
                info["type"] = "CUSTOM"
            executors.append({"agent_id": id_json(a.agent_id), "executor_info": info})
    return {"executors": executors, "orphan_executors": []}


def get_state(snap: Snapshot) -> dict[str, Any]:
    return {"get_tasks": get_tasks(snap), "get_executors": get_executors(snap),
            "get_frameworks": get_frameworks(snap), "get_agents": get_agents(snap)}
