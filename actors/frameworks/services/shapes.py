"""Marathon's JSON shapes, built from the framework's records: apps, tasks, deployments,
queue entries, groups. Only the fields Marathon itself emits on each object.

>>> d = Deployment("d1", "2026-01-01T00:00:00.000Z", ["/a"], [[{"action": "ScaleApplication", "app": "/a"}]])
>>> deployment_json(d, readiness=lambda app_id: [])["currentActions"]
[{'action': 'ScaleApplication', 'app': '/a', 'readinessCheckResults': []}]
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from actors.frameworks.services.model import AppRecord, Deployment, TaskRecord
from actors.frameworks.services.timefmt import iso

COUNTS, DEPLOYMENTS, TASKS, FAILURE, STATS, READINESS = (
    "counts", "deployments", "tasks", "lastTaskFailure", "taskStats", "readiness")


def embeds(values: Iterable[str], default: set[str]) -> set[str]:
    """`embed=app.tasks` / `apps.tasks` / `apps.counts`... -> {"tasks", "counts"}."""
    out = set()
    for v in values:
        for part in v.split(","):
            name = part.strip().split(".", 1)[-1]
            if name in (COUNTS, DEPLOYMENTS, TASKS, FAILURE, STATS, READINESS):
                out.add(name)
    return out or set(default)


def definition_json(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if v is not None}


def app_json(app: AppRecord, deployments: list[str], embed: set[str]) -> dict[str, Any]:
    """The app as Marathon shows it, with the runtime fields `embed` asks for."""
    out = definition_json(app.definition)
    if COUNTS in embed or TASKS in embed:
        out.update(counts(app))
    if DEPLOYMENTS in embed or TASKS in embed:
        out["deployments"] = [{"id": d} for d in deployments]
    if TASKS in embed:
        out["tasks"] = [task_json(app, t) for t in app.tasks.values()]
    if FAILURE in embed and app.last_failure:
        out["lastTaskFailure"] = app.last_failure
    if STATS in embed:
        out["taskStats"] = task_stats(app)
    if READINESS in embed:
        out["readinessCheckResults"] = app.readiness_results()
    return out


def counts(app: AppRecord) -> dict[str, int]:
    staged = running = healthy = unhealthy = 0
    checked = bool(app.definition.get("healthChecks"))
    for t in app.tasks.values():
        if t.state in ("TASK_STAGING", "TASK_STARTING"):
            staged += 1
        elif t.state == "TASK_RUNNING":
            running += 1
            if checked and t.health is not None:
                healthy += bool(t.health.get("alive"))
                unhealthy += not t.health.get("alive")
    return {"tasksStaged": staged, "tasksRunning": running, "tasksHealthy": healthy, "tasksUnhealthy": unhealthy}


def task_stats(app: AppRecord) -> dict[str, Any]:
    def stats(tasks: list[TaskRecord]) -> dict[str, Any]:
        c = {"staged": 0, "running": 0, "healthy": 0, "unhealthy": 0}
        for t in tasks:
            c["running" if t.running else "staged"] += 1
            if t.health is not None:
                c["healthy" if t.health.get("alive") else "unhealthy"] += 1
        return {"stats": {"counts": c}}

    tasks = list(app.tasks.values())
    latest = [t for t in tasks if t.config_version == app.config_version]
    after = [t for t in tasks if t.staged_at >= 0 and t.version >= app.definition["versionInfo"]["lastScalingAt"]]
    out = {}
    for key, group in (("totalSummary", tasks), ("withLatestConfig", latest), ("startedAfterLastScaling", after),
                       ("withOutdatedConfig", [t for t in tasks if t not in latest])):
        if group:
            out[key] = stats(group)
    return out


def task_json(app: AppRecord, t: TaskRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id, "appId": t.app_id, "host": t.host, "ports": list(t.ports),
        "servicePorts": list(t.service_ports), "slaveId": t.agent_id, "state": t.state,
        "stagedAt": iso(t.staged_at), "version": t.version, "ipAddresses": [], "localVolumes": [],
    }
    if t.started_at is not None:
        out["startedAt"] = iso(t.started_at)
    if app.definition.get("healthChecks"):
        out["healthCheckResults"] = [t.health] if t.health else []
    return out


def deployment_json(d: Deployment, readiness: Callable[[str], list[dict[str, Any]]]) -> dict[str, Any]:
    """`readiness(app id)`: the readinessCheckResults of the app's current actions."""
    return {
        "id": d.id, "version": d.version, "affectedApps": list(d.affected_apps), "affectedPods": [],
        "steps": [{"actions": list(step)} for step in d.steps],
        "currentActions": [dict(a, readinessCheckResults=readiness(a["app"])) for a in d.current_actions()],
        "currentStep": d.current_step, "totalSteps": len(d.steps),
    }


def queue_json(app: AppRecord, count: int, now: float) -> dict[str, Any]:
    left = max(0.0, app.delay.until - now)
    summary = app.offer_summary
    reasons = sorted(k for k in summary if k != "processed")
    unused = list(app.unused_offers)
    return {
        "app": definition_json(app.definition),
        "count": count,
        "delay": {"timeLeftSeconds": round(left), "overdue": left == 0},
        "since": iso(app.waiting_since if app.waiting_since is not None else now),
        "processedOffersSummary": {
            "processedOffersCount": summary.get("processed", 0),
            "unusedOffersCount": summary.get("processed", 0),
            "lastUnusedOfferAt": unused[-1]["timestamp"] if unused else None,
            "rejectSummaryLastOffers": [{"reason": r, "declined": summary[r], "processed": summary.get("processed", 0)}
                                        for r in reasons],
            "rejectSummaryLaunchAttempt": [{"reason": r, "declined": summary[r],
                                            "processed": summary.get("processed", 0)} for r in reasons],
        },
        "lastUnusedOffers": unused,
    }


def group_json(group_id: str, apps: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """The group `group_id` with its apps (JSON already) and nested groups."""
    prefix = group_id.rstrip("/") + "/"
    direct = [a for a in apps if a["id"].rsplit("/", 1)[0] + "/" == prefix]
    children = sorted({prefix + a["id"][len(prefix):].split("/", 1)[0] for a in apps
                       if a["id"].startswith(prefix) and "/" in a["id"][len(prefix):]})
    return {
        "id": group_id, "apps": direct, "pods": [], "dependencies": [], "version": version,
        "groups": [group_json(child, [a for a in apps if a["id"].startswith(child + "/")], version)
                   for child in children],
    }


_ENCODED: dict[tuple, bytes] = {}  # (app id, version, runtime fields) -> its JSON
_MAX_ENCODED = 20_000


def encode_apps(apps: list[dict[str, Any]], keys: list[tuple]) -> bytes:
    """`{"apps": [...]}` as JSON, each app's text reused while its version and runtime
    fields (the key) stay the same: with 1,000 apps most of them do between two GETs."""
    parts = []
    for app, key in zip(apps, keys):
        text = _ENCODED.get(key)
        if text is None:
            if len(_ENCODED) >= _MAX_ENCODED:
                _ENCODED.clear()
            text = _ENCODED[key] = json.dumps(app, separators=(",", ":"), ensure_ascii=False).encode()
        parts.append(text)
    return b'{"apps":[' + b",".join(parts) + b"]}"


def cache_key(app: AppRecord, out: dict[str, Any]) -> tuple | None:
    """A key for `encode_apps` when the app's JSON holds only its definition, counts and
    deployments (tasks and failures change too often to be worth it)."""
    if "tasks" in out or "lastTaskFailure" in out or "taskStats" in out or "readinessCheckResults" in out:
        return None
    d = app.definition
    runtime = tuple((k, repr(out[k])) for k in ("tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
                                                "deployments") if k in out)
    return (d["id"], d["version"], runtime)
