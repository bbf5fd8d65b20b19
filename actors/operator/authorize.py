"""The ACLs (actors/master/acls.py) applied to the HTTP API, for the principal that
authenticated the request (actors/operator/authenticate.py; None: anonymous).

- Writes are refused with 403 naming the principal, the action and the object:
  `authorize(request, action, obj)`, or `authorize_call(request, kind, call)` for a v1 call.
- Reads are filtered as Mesos does: what the principal may not view is left out, not
  refused (`visible(request, snap)`): frameworks by `view_frameworks` (the framework's
  user), tasks by `view_tasks` and executors by `view_executors` (the user of their
  framework), weights, quota and roles by `view_roles`.
  `get_quotas` filters quota too (GET_QUOTA, /master/quota, roles' quota), and
  `view_flags` the flags in /master/state (GET_FLAGS and /master/flags are refused: 403).
- Actions with an implicit object (actors/master/acls.py IMPLICIT: the agent calls,
  maintenance, view_flags) are allowed or not as a whole; the 403 still names what the
  call was about (an agent, machines). Maintenance reads are emptied, not refused
  (`maintenance_visible`), as Mesos filters them machine by machine.
- `get_endpoints` guards the metrics and allocation endpoints (`EndpointGuard`), and
  `access_sandboxes` the sandbox files (`sandbox_refusal`), by the framework's user.

>>> from actors.master.acls import parse_acls
>>> acls = parse_acls('{"update_weights": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}}]}')
>>> refusal(acls, "ops", "update_weights", "web") is None, refusal(acls, None, "update_weights", "web")
(True, "anonymous may not update_weights 'web'")
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response

from actors.http.basic_auth import principal_of
from actors.master.acls import IMPLICIT, ACLs
from actors.master.snapshot import Snapshot, TaskView

GUARDED_ENDPOINTS = ("/metrics/snapshot", "/metrics", "/mesobus/allocation")  # get_endpoints (as Mesos' list)
MAX_VIEWS = 64  # filtered snapshots kept (one per principal reading the newest snapshot)


class Forbidden(Exception):
    """403: the principal may not do this (the text says who, what and on what)."""


def acls_of(app_state: Any) -> ACLs:
    return getattr(app_state, "acls", None) or ACLs.permissive_default()


def refusal(acls: ACLs, principal: str | None, action: str, obj: str) -> str | None:
    """Why `principal` may not do `action` on `obj`, or None. For an action whose object is
    implicit, `obj` only says what the request was about (an agent, machines)."""
    if acls.allows(action, principal, "" if action in IMPLICIT else obj):
        return None
    who = "anonymous" if principal is None else f"principal {principal!r}"
    return f"{who} may not {action} {obj!r}"


def authorize(request: Request, action: str, *objects: str) -> None:
    """Raise Forbidden unless the request's principal may do `action` on every object."""
    acls = acls_of(request.app.state)
    for obj in objects:
        why = refusal(acls, principal_of(request.scope), action, obj)
        if why is not None:
            raise Forbidden(why)


def forbidden(err: Forbidden) -> Response:
    return Response(f"Forbidden: {err}\n", 403, media_type="text/plain")


# --- writes: what each call names ------------------------------------------------------

def _items(value: Any, key: str) -> list[Any]:
    return [i.get(key) for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _body(call: dict, key: str) -> dict:
    value = call.get(key)
    return value if isinstance(value, dict) else {}


def _framework_principal(request: Request, framework_id: Any) -> list[str]:
    if isinstance(framework_id, dict):
        framework_id = framework_id.get("value")
    snap = request.app.state.source.snapshot()
    for f in snap.frameworks if snap is not None else ():
        if f.framework_id == framework_id:
            return [f.principal]
    return [""]  # not known (a bad id is then a 400 from the call itself): only ANY allows it


def _agent(key: str) -> Callable[[Request, dict], Iterable[Any]]:
    """What an agent call is about (its object is implicit: only named in the 403)."""
    def objects(request: Request, call: dict) -> list[str]:
        agent_id = _body(call, key).get("agent_id")
        agent_id = agent_id.get("value") if isinstance(agent_id, dict) else agent_id
        return [f"agent {str(agent_id)[:120]}"]

    return objects


def _machines(key: str) -> Callable[[Request, dict], Iterable[Any]]:
    """What a maintenance call is about (implicit object: only named in the 403)."""
    def objects(request: Request, call: dict) -> list[str]:
        body = _body(call, key)
        if key == "update_maintenance_schedule":
            windows = _body(body, "schedule").get("windows")
            return [f"a schedule of {len(windows) if isinstance(windows, list) else 0} window(s)"]
        machines = body.get("machines")
        return [f"{len(machines) if isinstance(machines, list) else 0} machine(s)"]

    return objects


# v1 call type -> (action, the objects it names). Extracted from the call before it is
# validated: a shape the call would refuse names nothing, and the call is then a 400.
CALLS: dict[str, tuple[str, Callable[[Request, dict], Iterable[Any]]]] = {
    "UPDATE_WEIGHTS": ("update_weights", lambda r, c: _items(_body(c, "update_weights").get("weight_infos"), "role")),
    "UPDATE_QUOTA": ("update_quotas", lambda r, c: _items(_body(c, "update_quota").get("quota_configs"), "role")),
    "TEARDOWN": ("teardown_frameworks", lambda r, c: _framework_principal(r, _body(c, "teardown").get("framework_id"))),
    "GET_METRICS": ("get_endpoints", lambda r, c: ["/metrics/snapshot"]),
    "GET_FLAGS": ("view_flags", lambda r, c: ["flags"]),
    "MARK_AGENT_GONE": ("mark_agents_gone", _agent("mark_agent_gone")),
    "DRAIN_AGENT": ("drain_agents", _agent("drain_agent")),
    "DEACTIVATE_AGENT": ("deactivate_agents", _agent("deactivate_agent")),
    "REACTIVATE_AGENT": ("reactivate_agents", _agent("reactivate_agent")),
    "UPDATE_MAINTENANCE_SCHEDULE": ("update_maintenance_schedules", _machines("update_maintenance_schedule")),
    "START_MAINTENANCE": ("start_maintenances", _machines("start_maintenance")),
    "STOP_MAINTENANCE": ("stop_maintenances", _machines("stop_maintenance")),
}
# Maintenance reads: emptied for a principal without the action, not refused.
MAINTENANCE_READS = {"GET_MAINTENANCE_SCHEDULE": "get_maintenance_schedules",
                     "GET_MAINTENANCE_STATUS": "get_maintenance_statuses"}


def quota_action(acls: ACLs) -> str:
    """Mesos' `update_quotas`; a file that has only the older `set_quotas` is read by that."""
    return "set_quotas" if "set_quotas" in acls.rules and "update_quotas" not in acls.rules else "update_quotas"


def authorize_call(request: Request, kind: str, call: dict) -> None:
    """Raise Forbidden unless the principal may make this v1 call (calls not in CALLS are
    checked where they are carried out, or not at all)."""
    if kind not in CALLS or not acls_of(request.app.state).restricts:
        return
    action, objects = CALLS[kind]
    if action == "update_quotas":
        action = quota_action(acls_of(request.app.state))
    authorize(request, action, *(str(o) for o in objects(request, call) if o is not None))


# --- reads: what a principal sees ----------------------------------------------------

def maintenance_visible(request: Request, snap: Snapshot, action: str) -> Snapshot:
    """`snap`, without the maintenance schedule and down machines unless the principal may
    `action` (get_maintenance_schedules / get_maintenance_statuses)."""
    if acls_of(request.app.state).allows(action, principal_of(request.scope)):
        return snap
    return dataclasses.replace(snap, schedule=(), down_machines=())


_views: dict[tuple[int, str | None], tuple[Snapshot, Snapshot]] = {}
_views_lock = threading.Lock()


def visible(request: Request, snap: Snapshot | None) -> Snapshot | None:
    """`snap` without what the request's principal may not view (the same object when it
    may view everything, so that rendered bodies stay shared)."""
    acls = acls_of(request.app.state)
    if snap is None or not acls.restricts:
        return snap
    principal = principal_of(request.scope)
    key = (id(snap), principal)
    with _views_lock:
        hit = _views.get(key)
        if hit is not None and hit[0] is snap:
            return hit[1]
    view = filter_snapshot(snap, acls, principal)
    with _views_lock:
        if len(_views) >= MAX_VIEWS:
            _views.clear()
        _views[key] = (snap, view)
    return view


def framework_users(snap: Snapshot) -> dict[str, str]:
    """framework id -> the user its tasks run as (what view_* and access_sandboxes name)."""
    users = {f.get("id", ""): f.get("user", "") for f in snap.completed_frameworks}
    users.update({f.framework_id: f.user for f in snap.frameworks})
    return users


def task_filter(request: Request, snap: Snapshot) -> Callable[[TaskView], bool]:
    """Whether the request's principal may view a task (`view_tasks`, by its framework's
    user as `snap` knows it): for tasks met outside a snapshot (SUBSCRIBE's task feed)."""
    acls = acls_of(request.app.state)
    if not acls.restricts:
        return lambda task: True
    principal = principal_of(request.scope)
    users = framework_users(snap)
    return lambda task: acls.allows("view_tasks", principal, users.get(task.framework_id, ""))


def filter_snapshot(snap: Snapshot, acls: ACLs, principal: str | None) -> Snapshot:
    def may(action: str, obj: str) -> bool:
        return acls.allows(action, principal, obj)

    users = framework_users(snap)
    frameworks = tuple(f for f in snap.frameworks if may("view_frameworks", f.user))
    seen = {f.framework_id for f in frameworks}
    completed_frameworks = tuple(f for f in snap.completed_frameworks if may("view_frameworks", f.get("user", "")))
    tasks = tuple(t for t in snap.tasks if may("view_tasks", users.get(t.framework_id, "")))
    completed_tasks = tuple(t for t in snap.completed_tasks if may("view_tasks", users.get(t.framework_id, "")))
    offers = tuple(o for o in snap.offers if o.framework_id in seen)
    agents = tuple(a if all(may("view_executors", users.get(e[0], "")) for e in a.executors) else
                   dataclasses.replace(a, executors=tuple(e for e in a.executors
                                                          if may("view_executors", users.get(e[0], ""))))
                   for a in snap.agents)
    weights = {r: w for r, w in snap.weights.items() if may("view_roles", r)}
    quota = {r: q for r, q in snap.quota.items() if may("view_roles", r) and may("get_quotas", r)}
    flags = snap.flags if may("view_flags", "") else {}
    fewer = (len(frameworks), len(completed_frameworks), len(tasks), len(completed_tasks), len(offers),
             len(weights), len(quota), len(flags)) != (
                len(snap.frameworks), len(snap.completed_frameworks), len(snap.tasks), len(snap.completed_tasks),
                len(snap.offers), len(snap.weights), len(snap.quota), len(snap.flags))
    if not fewer and all(a is b for a, b in zip(agents, snap.agents)):
        return snap
    return dataclasses.replace(snap, frameworks=frameworks, completed_frameworks=completed_frameworks, tasks=tasks,
                               completed_tasks=completed_tasks, offers=offers, agents=agents, weights=weights,
                               quota=quota, flags=flags)


# --- endpoints and sandboxes ---------------------------------------------------------

class EndpointGuard:
    """ASGI middleware: `get_endpoints` for GUARDED_ENDPOINTS (403 when refused)."""

    def __init__(self, app: Any, acls: ACLs) -> None:
        self.app, self.acls = app, acls

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in GUARDED_ENDPOINTS and self.acls.restricts:
            why = refusal(self.acls, principal_of(scope), "get_endpoints", scope["path"])
            if why is not None:
                await forbidden(Forbidden(why))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def sandbox_refusal(request: Request, path: str) -> Response | None:
    """403 unless the principal may access the sandboxes of the framework in `path`
    (/agents/<agent>/frameworks/<framework>/...): `access_sandboxes`, by its user."""
    acls = acls_of(request.app.state)
    if not acls.restricts:
        return None
    parts = [p for p in path.split("/") if p]
    framework_id = parts[3] if len(parts) > 3 and parts[2] == "frameworks" else None
    user = ""
    snap = request.app.state.source.snapshot() if framework_id is not None else None
    if snap is not None:
        user = framework_users(snap).get(framework_id, "")
    why = refusal(acls, principal_of(request.scope), "access_sandboxes", user)
    return forbidden(Forbidden(why)) if why is not None else None
