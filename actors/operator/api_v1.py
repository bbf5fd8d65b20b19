"""`POST /api/v1` (and `/api/v1/operator`): Mesos' v1 operator API in JSON.

A call is `{"type": "GET_STATE", ...}`; the answer `{"type": "GET_STATE", "get_state":
{...}}`; writes answer 200 with no body once the master has carried them out (202 for
RESERVE/UNRESERVE_RESOURCES, as Mesos). A call that is not JSON, of an unknown type or
with bad fields is a 400 naming what was wrong (403 refused by an ACL, 409 resources not
available); one mesobus does not carry out is a 501; a standby redirects to the leader (307).
`SUBSCRIBE` is a RecordIO stream: see subscribe.py.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.http.body import BadRequest, bounded_body
from actors.master.snapshot import Snapshot
from actors.operator import maintenance, shapes_v1, writes
from actors.operator.authorize import (MAINTENANCE_READS, Forbidden, authorize_call, forbidden, maintenance_visible,
                                      visible)
from actors.operator.master_v0 import VERSION, roles_json
from actors.operator.metrics import figures
from actors.operator.respond import error, redirect_to_leader
from actors.operator.shapes import resources_full
from actors.operator.source import MasterSource
from actors.operator.writes import CallError, Unavailable

MAX_BODY = 1 << 20  # an operator call is small; a bigger body is refused before parsing

Reader = Callable[[MasterSource, Snapshot | None, dict], Any]
Write = Callable[[MasterSource, dict, str], None]  # (source, call, the caller's principal or "")


def _weights(source: MasterSource, snap: Snapshot | None, call: dict) -> Any:
    return {"weight_infos": [{"role": r, "weight": w} for r, w in sorted(snap.weights.items())]}


def _quota(source: MasterSource, snap: Snapshot | None, call: dict) -> Any:
    configs = []
    for role, limit in sorted(snap.quota.items()):
        configs.append({"role": role, "limits": {n: {"value": v / 1000} for n, v in limit.scalar_items()}})
    infos = [{"role": c["role"], "guarantee": resources_full(snap.quota[c["role"]])} for c in configs]
    return {"status": {"infos": infos, "configs": configs}}


def _roles(source: MasterSource, snap: Snapshot | None, call: dict) -> Any:
    out = []
    for role in roles_json(snap):
        out.append({"name": role["name"], "weight": role["weight"],
                    "frameworks": [{"value": f} for f in role["frameworks"]],
                    "resources": [], "quota": role["quota"]})
    return {"roles": out}


# type -> (needs the leader's snapshot, what to answer)
READS: dict[str, tuple[bool, Reader]] = {
    "GET_HEALTH": (False, lambda source, snap, call: {"healthy": True}),
    "GET_VERSION": (False, lambda source, snap, call: {"version_info": {"version": VERSION}}),
    "GET_METRICS": (False, lambda source, snap, call: {"metrics": [{"name": k, "value": v}
                                                                   for k, v in sorted(figures(source).items())]}),
    "GET_FLAGS": (True, lambda source, snap, call: {"flags": [{"name": k, "value": v} for k, v in snap.flags.items()]}),
    "GET_STATE": (True, lambda source, snap, call: shapes_v1.get_state(snap)),
    "GET_AGENTS": (True, lambda source, snap, call: shapes_v1.get_agents(snap)),
    "GET_FRAMEWORKS": (True, lambda source, snap, call: shapes_v1.get_frameworks(snap)),
    "GET_TASKS": (True, lambda source, snap, call: shapes_v1.get_tasks(snap)),
    "GET_EXECUTORS": (True, lambda source, snap, call: shapes_v1.get_executors(snap)),
    "GET_ROLES": (True, _roles),
    "GET_WEIGHTS": (True, _weights),
    "GET_QUOTA": (True, _quota),
    "GET_MAINTENANCE_SCHEDULE": (True, lambda source, snap, call: {
        "schedule": maintenance.schedule_json(snap.schedule)}),
    "GET_MAINTENANCE_STATUS": (True, lambda source, snap, call: {
        "status": maintenance.status_json(snap.schedule, snap.down_machines)}),
    "GET_MASTER": (True, lambda source, snap, call: {"master_info": {
        "id": snap.leader["id"], "hostname": snap.leader["hostname"], "version": snap.leader["version"],
        "address": {"hostname": source.http_address.rpartition(":")[0],
                    "port": int(source.http_address.rpartition(":")[2] or 0)}},
        "start_time": snap.start_time, "elected_time": snap.start_time}),
}


def _field(call: dict, name: str) -> dict:
    value = call.get(name)
    if not isinstance(value, dict):
        raise CallError(f"{call['type']}: expected a {name!r} object")
    return value


def _id(obj: dict, name: str) -> str:
    value = obj.get(name)
    if isinstance(value, dict):
        value = value.get("value")
    if not isinstance(value, str) or not value:
        raise CallError(f"{name}: expected {{\"value\": ID}}, not {obj.get(name)!r}")
    return value


def _update_weights(source: MasterSource, call: dict, principal: str) -> None:
    writes.update_weights(source, writes.parse_weights(_field(call, "update_weights").get("weight_infos")))


def _update_quota(source: MasterSource, call: dict, principal: str) -> None:
    configs = _field(call, "update_quota").get("quota_configs")
    if not isinstance(configs, list) or not configs:
        raise CallError("update_quota.quota_configs: expected a non-empty list")
    parsed = [writes.parse_quota_config(c) for c in configs]  # all checked before any is sent
    for role, limit in parsed:
        writes.update_quota(source, role, limit)


def _teardown(source: MasterSource, call: dict, principal: str) -> None:
    writes.teardown(source, _id(_field(call, "teardown"), "framework_id"))


def _mark_agent_gone(source: MasterSource, call: dict, principal: str) -> None:
    writes.mark_gone(source, _id(_field(call, "mark_agent_gone"), "agent_id"))


def _agent_call(active: bool, drain: bool = False) -> Write:
    def call(source: MasterSource, call: dict, principal: str) -> None:
        body = _field(call, call["type"].lower())
        writes.maintain(source, _id(body, "agent_id"), active=active, drain=drain)

    return call


def _reservation(source: MasterSource, call: dict, principal: str) -> None:
    body = _field(call, call["type"].lower())
    resources = writes.parse_resources(body.get("resources"), f"{call['type'].lower()}.resources")
    act = writes.reserve if call["type"] == "RESERVE_RESOURCES" else writes.unreserve
    act(source, _id(body, "agent_id"), resources, principal)


def _update_schedule(source: MasterSource, call: dict, principal: str) -> None:
    body = _field(call, "update_maintenance_schedule")
    writes.update_schedule(source, maintenance.parse_schedule(body.get("schedule"), "update_maintenance_schedule.schedule"))


def _machines(down: bool) -> Write:
    def call(source: MasterSource, call: dict, principal: str) -> None:
        key = call["type"].lower()
        machines = maintenance.parse_machines(_field(call, key).get("machines"), f"{key}.machines")
        (writes.machines_down if down else writes.machines_up)(source, machines)

    return call


WRITES: dict[str, Write] = {
    "DEACTIVATE_AGENT": _agent_call(active=False),
    "DRAIN_AGENT": _agent_call(active=False, drain=True),
    "REACTIVATE_AGENT": _agent_call(active=True),
    "UPDATE_WEIGHTS": _update_weights,
    "UPDATE_QUOTA": _update_quota,
    "TEARDOWN": _teardown,
    "MARK_AGENT_GONE": _mark_agent_gone,
    "RESERVE_RESOURCES": _reservation,
    "UNRESERVE_RESOURCES": _reservation,
    "UPDATE_MAINTENANCE_SCHEDULE": _update_schedule,
    "START_MAINTENANCE": _machines(down=True),
    "STOP_MAINTENANCE": _machines(down=False),
}
ACCEPTED = {"RESERVE_RESOURCES", "UNRESERVE_RESOURCES"}  # Mesos answers these 202 Accepted

NOT_CARRIED_OUT = {"SET_LOGGING_LEVEL", "GET_LOGGING_LEVEL", "CREATE_VOLUMES", "DESTROY_VOLUMES",
                   "GROW_VOLUME", "SHRINK_VOLUME", "GET_OPERATIONS"}


async def call(request: Request) -> Response:
    source: MasterSource = request.app.state.source
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", ""):
        return error(415, f"Content-Type {content_type!r}: mesobus speaks application/json (not protobuf)")
    try:
        body = await bounded_body(request, MAX_BODY)
    except BadRequest:
        return error(413, f"the call is larger than {MAX_BODY} bytes")
    try:
        parsed = json.loads(body or b"null")
    except ValueError as err:
        return error(400, f"the call is not JSON: {err}")
    except RecursionError:  # '[[[[...' within MAX_BODY
        return error(400, "the call is not JSON: nested too deeply")
    if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
        return error(400, 'expected a JSON object with a "type", e.g. {"type": "GET_STATE"}')
    kind = parsed["type"]
    if kind == "SUBSCRIBE":
        from actors.operator.subscribe import subscribe

        return subscribe(request)
    if kind in READS:
        needs_leader, reader = READS[kind]
        if needs_leader and not source.leading:
            return redirect_to_leader(request, source)
        try:
            await run_in_threadpool(authorize_call, request, kind, parsed)
            snap = await run_in_threadpool(lambda: visible(request, source.snapshot())) if needs_leader else None
        except TimeoutError as err:
            return error(503, str(err))
        except Forbidden as err:
            return forbidden(err)
        if kind in MAINTENANCE_READS:
            snap = maintenance_visible(request, snap, MAINTENANCE_READS[kind])
        answer = reader(source, snap, parsed)
        key = kind.lower()
        return Response(json.dumps({"type": kind, key: answer}, separators=(",", ":")),
                        media_type="application/json")
    if kind in WRITES:
        if not source.leading:
            return redirect_to_leader(request, source)
        try:
            await run_in_threadpool(authorize_call, request, kind, parsed)
            await run_in_threadpool(WRITES[kind], source, parsed, writes.principal_of(request))
        except Forbidden as err:
            return forbidden(err)
        except CallError as err:
            return error(err.status, f"{kind}: {err}")
        except Unavailable as err:
            return error(503, f"{kind}: {err}")
        return Response(status_code=202 if kind in ACCEPTED else 200)
    if kind in ("LIST_FILES", "READ_FILE"):
        from actors.operator.files import v1_call

        return await v1_call(request, parsed)
    if kind in NOT_CARRIED_OUT:
        return error(501, f"{kind}: not carried out by mesobus (see docs/operator.md)")
    return error(400, f"unknown call type {kind!r}")


routes = [
    Route("/api/v1", call, methods=["POST"]),
    Route("/api/v1/operator", call, methods=["POST"]),
]
