"""Mesos' v0 master endpoints (`/master/state`, `/master/tasks`, ...), read from the snapshot.

Shapes follow Mesos 1.x (http://mesos.apache.org/documentation/latest/endpoints/): v0
spells agents `slave`. A standby answers each of these with a 307 to the leader (503 while
none leads), except `/health`, `/version`, `/master/flags` and `/master/redirect` itself.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.http.basic_auth import principal_of
from actors.master.snapshot import Snapshot, TaskView
from actors.operator.authorize import Forbidden, acls_of, forbidden, refusal
from actors.operator.respond import error, int_param, json_response, redirect_to_leader, snapshot_or_redirect
from actors.operator.shapes import Index, agent_json, framework_json, task_json

VERSION = "1.11.0"  # the Mesos API level these endpoints follow
MAX_KEPT_TEXTS = 100_000  # task texts kept between renderings of the whole state
MAX_RENDERS = 64  # bodies kept per snapshot (queries differ by their parameters)
MAX_VIEWS = 16  # filtered views of one snapshot whose bodies are kept


class _Renders:
    """Bodies built from the newest snapshot, kept until the next one: a poller every
    100 ms costs one rendering per snapshot, not one per request. The views of it that
    ACLs filter for some principals (actors/operator/authorize.py) are kept beside it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[int, float] = (-1, 0.0)
        self._made: dict[int, tuple[Snapshot, dict[str, Any]]] = {}  # id(snapshot or view) -> bodies

    def get(self, snap: Snapshot, key: str, make: Callable[[], Any],
            on_cost: Callable[[Snapshot, float], None] | None = None) -> Any:
        with self._lock:
            if (snap.version, snap.taken_at) != self._version:  # a new snapshot (its views share both)
                self._version, self._made = (snap.version, snap.taken_at), {}
            kept = self._made.get(id(snap))
            if kept is not None and kept[0] is snap and key in kept[1]:
                return kept[1][key]
        started = time.perf_counter()
        value = make()
        if on_cost is not None:
            on_cost(snap, time.perf_counter() - started)
        with self._lock:
            kept = self._made.get(id(snap))
            if kept is None or kept[0] is not snap:
                if len(self._made) >= MAX_VIEWS:
                    return value
                kept = self._made[id(snap)] = (snap, {})
            if len(kept[1]) < MAX_RENDERS:
                kept[1][key] = value
        return value


renders = _Renders()


def _index(snap: Snapshot) -> Index:
    return renders.get(snap, "index", lambda: Index(snap))


def frameworks_list(snap: Snapshot, task_list: Callable[[list[TaskView]], Any] | None = None) -> list[dict]:
    ix = _index(snap)
    return [framework_json(snap, f, ix.tasks.get(f.framework_id, []), ix.done.get(f.framework_id, []),
                           ix.offers.get(f.framework_id, []), task_list=task_list) for f in snap.frameworks]


class _TaskFragments:
    """Each task's JSON text, kept while its view lives on in the snapshots (views of
    unchanged tasks are reused: see actors/master/snapshot.py), so rendering /master/state
    again costs the changed tasks plus a join. Arrays go in as placeholders (with a nonce
    no task's text can guess) that are replaced by the joined texts after json.dumps."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[TaskView, str]] = {}

    def render(self, data_with: Callable[[Callable[[list[TaskView]], str]], Any], keep: bool = True) -> bytes:
        """`keep`: this rendering holds every task (the texts of others are dropped)."""
        nonce, arrays, old = os.urandom(8).hex(), {}, self._texts
        if not keep and len(old) > MAX_KEPT_TEXTS:  # only pages asked for lately: start over
            old = self._texts = {}
        fresh = {} if keep else old

        def task_list(views: list[TaskView]) -> str:
            parts = []
            for v in views:
                hit = old.get(id(v))
                if hit is None or hit[0] is not v:
                    hit = (v, json.dumps(task_json(v), separators=(",", ":")))
                fresh[id(v)] = hit
                parts.append(hit[1])
            key = f"@{nonce}-{len(arrays)}@"
            arrays[f'"{key}"'] = "[" + ",".join(parts) + "]"
            return key

        text = json.dumps(data_with(task_list), separators=(",", ":"))
        if keep:
            self._texts = fresh
        for key, array in arrays.items():
            text = text.replace(key, array, 1)
        return text.encode()


fragments = _TaskFragments()


def completed_frameworks_list(snap: Snapshot) -> list[dict]:
    # their ended tasks are still among the master's completed tasks (as in Mesos' state)
    done = _index(snap).done
    return [{"id": f.get("id", ""), "name": f.get("name", ""), "active": False, "connected": False,
             "unregistered_time": f.get("removed_at", 0), "tasks": [],
             "completed_tasks": [task_json(t) for t in done.get(f.get("id", ""), [])]}
            for f in snap.completed_frameworks]


def leader_info(snap: Snapshot, address: str) -> dict[str, Any]:
    host, _, port = address.rpartition(":")
    return {"id": snap.leader["id"], "pid": f"master@{address}", "hostname": snap.leader["hostname"] or host,
            "port": int(port or 0), "version": snap.leader["version"],
            "address": {"hostname": snap.leader["hostname"] or host, "ip": host, "port": int(port or 0)}}


def state_json(snap: Snapshot, address: str, task_list: Callable[[list[TaskView]], Any] | None = None) -> dict[str, Any]:
    active = sum(1 for a in snap.agents if a.reachable)
    return {
        "version": VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "",
        "start_time": snap.start_time,
        "elected_time": snap.start_time,
        "id": snap.leader["id"],
        "pid": f"master@{address}",
        "hostname": snap.leader["hostname"] or address.rpartition(":")[0],
        "capabilities": [],
        "activated_slaves": active,
        "deactivated_slaves": sum(1 for a in snap.agents if a.deactivated),
        "unreachable_slaves": len(snap.agents) - active,
        "leader": f"master@{address}",
        "leader_info": leader_info(snap, address),
        "flags": snap.flags,
        "slaves": [agent_json(snap, a) for a in snap.agents],
        "frameworks": frameworks_list(snap, task_list),
        "completed_frameworks": completed_frameworks_list(snap),
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def _cached_json(request: Request, snap: Snapshot, key: str, make: Callable[[], Any]) -> Response:
    if request.query_params.get("jsonp"):
        return json_response(request, make())
    import json

    body = renders.get(snap, key, lambda: json.dumps(make(), separators=(",", ":")).encode(), _charge(request))
    return Response(body, media_type="application/json")


def _charge(request: Request) -> Callable[[Snapshot, float], None] | None:
    publisher = request.app.state.source.publisher
    return publisher.charge if publisher is not None else None


def state(request: Request) -> Response:
    snap = snapshot_or_redirect(request)
    if isinstance(snap, Response):
        return snap
    address = request.app.state.source.http_address
    if request.query_params.get("jsonp"):
        return json_response(request, state_json(snap, address))
    body = renders.get(snap, "state", lambda: fragments.render(lambda task_list: state_json(snap, address, task_list)),
                       _charge(request))
    return Response(body, media_type="application/json")


def state_summary(request: Request) -> Response:
    snap = snapshot_or_redirect(request)
    if isinstance(snap, Response):
        return snap
    address = request.app.state.source.http_address

    def make() -> dict:
        ix = _index(snap)
        slaves = []
        for a in snap.agents:
            item = agent_json(snap, a, detail=False)
            item.update(_counts(ix.agent_tasks.get(a.agent_id, [])))
            item["framework_ids"] = list(ix.agent_frameworks.get(a.agent_id, {}))
            slaves.append(item)
        frameworks = []
        for f in snap.frameworks:
            tasks = ix.tasks.get(f.framework_id, [])
            item = framework_json(snap, f, tasks, [], [], detail=False)
            item["slave_ids"] = sorted({t.agent_id for t in tasks})
            frameworks.append(item)
        return {"hostname": snap.leader["hostname"] or address.rpartition(":")[0], "cluster": "",
                "leader": f"master@{address}", "slaves": slaves, "frameworks": frameworks}

    return _cached_json(request, snap, "summary", make)


def _counts(tasks) -> dict[str, int]:
    from actors.operator.shapes import state_counts

    return state_counts(tasks)


def frameworks(request: Request) -> Response:
    snap = snapshot_or_redirect(request)
    if isinstance(snap, Response):
        return snap
    wanted = request.query_params.get("framework_id")
    items = [f for f in frameworks_list(snap) if not wanted or f["id"] == wanted]
    return json_response(request, {"frameworks": items, "completed_frameworks": completed_frameworks_list(snap),
                                   "unregistered_frameworks": []})


def slaves(request: Request) -> Response:
    snap = snapshot_or_redirect(request)
    if isinstance(snap, Response):
        return snap
    wanted = request.query_params.get("slave_id")
    items = [agent_json(snap, a) for a in snap.agents if not wanted or a.agent_id == wanted]
    return json_response(request, {"slaves": items, "recovered_slaves": []})


def tasks(request: Request) -> Response:
    """`limit` (default 100), `offset`, `order` (asc|des, default des: newest first, by
    the time of the latest status), `framework_id`, `task_id`."""
    snap = snapshot_or_redirect(request)
    if isinstance(snap, Response):
        return snap
    try:
        limit = int_param(request, "limit", 100)
        offset = int_param(request, "offset", 0)
    except ValueError as err:
        return error(400, str(err))
    order = request.query_params.get("order", "des")
    if order not in ("asc", "des"):
        return error(400, f"order: expected 'asc' or 'des', not {order!r}")
    framework_id = request.query_params.get("framework_id")
    task_id = request.query_params.get("task_id")

    def make() -> bytes:
        chosen = [t for t in snap.all_tasks()
                  if (not framework_id or t.framework_id == framework_id) and (not task_id or t.task_id == task_id)]
        chosen.sort(key=lambda t: t.updated_at or t.created_at, reverse=order == "des")
        page = chosen[offset:offset + limit]
        return fragments.render(lambda task_list: {"tasks": task_list(page)}, keep=False)

    if request.query_params.get("jsonp"):
        return json_response(request, json.loads(make()))
    key = f"tasks?{limit}&{offset}&{order}&{framework_id}&{task_id}"
    return Response(renders.get(snap, key, make, _charge(request)), media_type="application/json")


def roles_json(snap: Snapshot) -> list[dict[str, Any]]:
    from actors.operator.shapes import resources_json
    from messages import Resources

    names: dict[str, None] = {"*": None}
    for f in snap.frameworks:
        names.update(dict.fromkeys(f.roles))
    names.update(dict.fromkeys(snap.weights))
    names.update(dict.fromkeys(snap.quota))
    out = []
    for role in sorted(names):
        frameworks = [f for f in snap.frameworks if role in f.roles]
        allocated = sum((t.resources for t in snap.tasks if t.role == role), Resources())
        offered = sum((o.resources for o in snap.offers if o.role == role), Resources())
        reserved = sum((a.total.reserved(role) for a in snap.agents), Resources()) if role != "*" else Resources()
        limit = snap.quota.get(role, Resources())
        out.append({
            "name": role,
            "weight": snap.weights.get(role, 1.0),
            "resources": resources_json(allocated + offered),
            "allocated": resources_json(allocated),
            "offered": resources_json(offered),
            "reserved": resources_json(reserved),
            "frameworks": [f.framework_id for f in frameworks],
            "quota": {"role": role, "limit": resources_json(limit) if limit else {},
                      "guarantee": {}, "consumed": resources_json(allocated)},
        })
    return out


def roles(request: Request) -> Response:
    snap = snapshot_or_redirect(request)
    if isinstance(snap, Response):
        return snap
    return json_response(request, {"roles": roles_json(snap)})


def flags(request: Request) -> Response:
    why = refusal(acls_of(request.app.state), principal_of(request.scope), "view_flags", "flags")
    if why is not None:  # Mesos: 403 unless the principal may view all flags
        return forbidden(Forbidden(why))
    source = request.app.state.source
    snap = source.snapshot() if source.leading else None
    return json_response(request, {"flags": snap.flags if snap is not None else dict(request.app.state.flags)})


def health(request: Request) -> Response:
    return Response(status_code=200)


def version(request: Request) -> Response:
    from actors.master.config import MasterConfig

    return json_response(request, {"version": VERSION, "mesobus_version": MasterConfig().version,
                                   "build_date": "", "build_time": 0, "build_user": "",
                                   "git_sha": "", "git_branch": "", "git_tag": ""})


def redirect(request: Request) -> Response:
    return redirect_to_leader(request, request.app.state.source, path="")


routes = [
    Route("/master/state", state),
    Route("/state", state),
    Route("/master/state.json", state),
    Route("/master/state-summary", state_summary),
    Route("/state-summary", state_summary),
    Route("/master/frameworks", frameworks),
    Route("/frameworks", frameworks),
    Route("/master/slaves", slaves),
    Route("/slaves", slaves),
    Route("/master/tasks", tasks),
    Route("/tasks", tasks),
    Route("/master/roles", roles),
    Route("/roles", roles),
    Route("/master/flags", flags),
    Route("/flags", flags),
    Route("/master/health", health),
    Route("/health", health),
    Route("/version", version),
    Route("/master/redirect", redirect),
    Route("/redirect", redirect),
]
