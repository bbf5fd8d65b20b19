"""The master's state and metrics as plain dicts (what /state and /metrics/snapshot show).

Read-only: built from the registries, changes nothing. Metric names follow Mesos'
(`master/tasks_running`, `master/slaves_active`, `master/cpus_used`...); gauges are
computed, counters come from `Master.metrics`. Terminal `master/tasks_<state>` count
every task that ever ended so (as in Mesos), the others count the live tasks now.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from messages import Resources, TaskState

if TYPE_CHECKING:
    from actors.master.actor import Master

SCALARS = ("cpus", "mem", "disk", "gpus")


def metrics(m: "Master") -> dict[str, float]:
    out: dict[str, float] = {
        "master/uptime_secs": max(m.now() - m.start_time, 0.0),
        "master/elected": 1.0,
    }
    live = m.tasks.count_by_state()
    for state in TaskState:
        name = f"master/tasks_{state.value[len('TASK_'):].lower()}"
        out[name] = float(m.tasks.finished_counts[state.value] if state.is_terminal else live[state.value])
    agents = m.agents.all()
    reachable = [a for a in agents if a.reachable]
    out["master/slaves_active"] = float(len(reachable))
    out["master/slaves_connected"] = float(len(reachable))
    out["master/slaves_disconnected"] = float(len(agents) - len(reachable))
    out["master/slaves_unreachable"] = float(len(agents) - len(reachable))
    frameworks = m.frameworks.all()
    connected = sum(1 for f in frameworks if f.connected)
    out["master/frameworks_active"] = float(connected)
    out["master/frameworks_connected"] = float(connected)
    out["master/frameworks_inactive"] = float(len(frameworks) - connected)
    out["master/frameworks_disconnected"] = float(len(frameworks) - connected)
    out["master/outstanding_offers"] = float(m.offers.count())
    total, used = Resources(), Resources()
    for agent in reachable:
        total = total + agent.total
        used = used + agent_used(m, agent.id)
    for name in SCALARS:
        t, u = total.scalar(name), used.scalar(name)
        out[f"master/{name}_total"] = t
        out[f"master/{name}_used"] = u
        out[f"master/{name}_percent"] = u / t if t else 0.0
    out["master/messages_received"] = float(m.counters["received"])
    out["master/messages_dead_lettered"] = float(m.counters["dead_lettered"])
    for key, value in sorted(m.metrics.items()):
        out[key] = float(value)
    return out


def agent_used(m: "Master", agent_id: str) -> Resources:
    used = Resources()
    for task in m.tasks.on_agent(agent_id):
        used = used + task.resources
    agent = m.agents.get(agent_id)
    if agent is not None:
        for ex in agent.executors.values():
            used = used + ex.resources
    return used


def state(m: "Master") -> dict:
    info = m.master_info
    return {
        "master": {
            "id": info.master_id,
            "hostname": info.hostname,
            "version": info.version,
            "address": m.address,
            "start_time": m.start_time,
            "elected": True,
        },
        "config": dataclasses.asdict(m.config),
        "frameworks": [_framework(m, f) for f in m.frameworks.all()],
        "completed_frameworks": m.frameworks.removed(),
        "agents": [_agent(m, a) for a in m.agents.all()],
        "tasks": [t.as_dict() for t in m.tasks.live()],
        "completed_tasks": [t.as_dict() for t in m.tasks.completed_tasks()],
        "tasks_by_state": dict(m.tasks.count_by_state()),
        "offers": [o.as_dict() for o in m.offers.records()],
        "metrics": metrics(m),
    }


def _framework(m: "Master", f) -> dict:
    info = f.info
    offered = Resources()
    for offer in m.offers.of_framework(f.id):
        offered = offered + offer.resources
    return {
        "id": f.id,
        "name": info.name,
        "user": info.user,
        "principal": info.principal,
        "hostname": info.hostname,
        "roles": list(info.roles),
        "capabilities": list(info.capabilities),
        "failover_timeout": info.failover_timeout,
        "checkpoint": info.checkpoint,
        "active": f.active,
        "connected": f.connected,
        "recovered": f.recovered,
        "registered_at": f.registered_at,
        "reregistered_at": f.reregistered_at,
        "disconnected_at": f.disconnected_at,
        "last_heard": f.last_heard,
        "tasks": len(m.tasks.of_framework(f.id)),
        "offers": len(m.offers.of_framework(f.id)),
        "used_resources": str(m.frameworks.used(f.id)),
        "offered_resources": str(offered),
    }


def _agent(m: "Master", a) -> dict:
    return {
        "id": a.id,
        "hostname": a.info.hostname,
        "port": a.info.port,
        "attributes": dict(a.info.attributes),
        "resources": str(a.total),
        "reserved_resources": str(a.reservations),
        "used_resources": str(agent_used(m, a.id)),
        "offered_resources": str(m.offers.offered_on(a.id)),
        "active": a.reachable,
        "reachable": a.reachable,
        "version": a.version,
        "registered_at": a.registered_at,
        "reregistered_at": a.reregistered_at,
        "unreachable_at": a.unreachable_at,
        "missed_pings": a.missed_pings,
        "tasks": len(m.tasks.on_agent(a.id)),
        "executors": [
            {"framework_id": e.framework_id, "executor_id": e.executor_id, "resources": str(e.resources)}
            for e in a.executors.values()
        ],
    }
