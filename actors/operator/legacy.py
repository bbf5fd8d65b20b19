"""Mesos' older write endpoints, mapped to the same operator calls as the v1 API:
`/master/weights` (GET, PUT a list of {role, weight}), `/master/quota` (GET; POST
{role, guarantee|limits}; DELETE /master/quota/ROLE), `/master/teardown` (POST
framework_id=ID, form or query), `/master/reserve` and `/master/unreserve` (POST form
slaveId=ID&resources=JSON list of Resource; 202 Accepted), maintenance:
`/master/maintenance/schedule` (GET; POST a Schedule), `/master/maintenance/status`,
`/master/machine/down` and `/master/machine/up` (POST a list of MachineID). Each also
without the `/master` prefix, as Mesos serves them.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.operator import maintenance, writes
from actors.operator.authorize import (Forbidden, acls_of, authorize, authorize_call, forbidden, maintenance_visible,
                                      quota_action)
from actors.operator.respond import error, json_response, redirect_to_leader, snapshot_or_redirect
from actors.http.body import BadRequest, bounded_body
from actors.operator.writes import CallError, Unavailable
from messages import Resources

MAX_BODY = 1 << 20


async def _body(request: Request) -> bytes:
    try:
        return await bounded_body(request, MAX_BODY)
    except BadRequest as err:
        raise CallError(str(err)) from None


async def _write(request: Request, action, status: int = 200) -> Response:
    source = request.app.state.source
    if not source.leading:
        return redirect_to_leader(request, source)
    try:
        body = await _body(request)
        await run_in_threadpool(action, source, body)
    except Forbidden as err:
        return forbidden(err)
    except CallError as err:
        return error(err.status, str(err))
    except Unavailable as err:
        return error(503, str(err))
    return Response(status_code=status)


def _json(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError as err:
        raise CallError(f"the body is not JSON: {err}") from None
    except RecursionError:  # '[[[[...' within MAX_BODY
        raise CallError("the body is not JSON: nested too deeply") from None


async def weights(request: Request) -> Response:
    if request.method == "GET":
        snap = snapshot_or_redirect(request)
        if isinstance(snap, Response):
            return snap
        return json_response(request, [{"role": r, "weight": w} for r, w in sorted(snap.weights.items())])
    def update(source, body: bytes) -> None:
        weights = writes.parse_weights(_json(body))
        authorize(request, "update_weights", *weights)
        writes.update_weights(source, weights)

    return await _write(request, update)


async def quota(request: Request) -> Response:
    if request.method == "GET":
        snap = snapshot_or_redirect(request)
        if isinstance(snap, Response):
            return snap
        from actors.operator.api_v1 import _quota

        return json_response(request, _quota(request.app.state.source, snap, {})["status"])

    def set_quota(source, body: bytes) -> None:
        given = _json(body)
        if not isinstance(given, dict):
            raise CallError('expected {"role": ROLE, "guarantee": [Resource, ...]} or {"role", "limits"}')
        if "guarantee" in given:  # the old request: a Resource list
            guarantee = given["guarantee"]
            if not isinstance(guarantee, list):
                raise CallError("guarantee: expected a list of Resource objects")
            limits = {}
            for item in guarantee:
                if not isinstance(item, dict) or not isinstance(item.get("scalar"), dict) \
                        or not isinstance(item.get("name"), str):
                    raise CallError(f"guarantee: expected scalar Resource objects ({{name, scalar}}), not {item!r:.200}")
                limits[item.get("name")] = item["scalar"].get("value")
            given = {"role": given.get("role"), "limits": limits}
        role, limit = writes.parse_quota_config(given)
        authorize(request, quota_action(acls_of(request.app.state)), role)
        writes.update_quota(source, role, limit)

    return await _write(request, set_quota)


async def remove_quota(request: Request) -> Response:
    def remove(source, body: bytes) -> None:
        role = writes.check_role(request.path_params["role"])
        authorize(request, quota_action(acls_of(request.app.state)), role)
        writes.update_quota(source, role, Resources())

    return await _write(request, remove)


async def teardown(request: Request) -> Response:
    def act(source, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        ids = form.get("frameworkId") or form.get("framework_id") or [request.query_params.get("framework_id", "")]
        authorize_call(request, "TEARDOWN", {"teardown": {"framework_id": ids[0]}})
        writes.teardown(source, ids[0])

    return await _write(request, act)


def _reservation(request: Request, reserve: bool):
    principal = writes.principal_of(request)

    def act(source, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}
        agent_id = (form.get("slaveId") or [""])[0]
        if not agent_id:
            raise CallError("missing 'slaveId' in the request body (a form: slaveId=ID&resources=JSON)")
        if not form.get("resources"):
            raise CallError("missing 'resources' in the request body (a JSON list of Resource objects)")
        try:
            items = json.loads(form["resources"][0])
        except ValueError as err:
            raise CallError(f"resources: not JSON: {err}") from None
        except RecursionError:
            raise CallError("resources: not JSON: nested too deeply") from None
        (writes.reserve if reserve else writes.unreserve)(source, agent_id, writes.parse_resources(items), principal)

    return act


async def reserve(request: Request) -> Response:
    return await _write(request, _reservation(request, reserve=True), status=202)


async def unreserve(request: Request) -> Response:
    return await _write(request, _reservation(request, reserve=False), status=202)


async def maintenance_schedule(request: Request) -> Response:
    if request.method == "GET":
        snap = snapshot_or_redirect(request)
        if isinstance(snap, Response):
            return snap
        snap = maintenance_visible(request, snap, "get_maintenance_schedules")
        return json_response(request, maintenance.schedule_json(snap.schedule))

    def update(source, body: bytes) -> None:
        schedule = maintenance.parse_schedule(_json(body))
        authorize(request, "update_maintenance_schedules", f"a schedule of {len(schedule)} window(s)")
        writes.update_schedule(source, schedule)

    return await _write(request, update)


async def maintenance_status(request: Request) -> Response:
    snap = snapshot_or_redirect(request)
    if isinstance(snap, Response):
        return snap
    snap = maintenance_visible(request, snap, "get_maintenance_statuses")
    return json_response(request, maintenance.status_json(snap.schedule, snap.down_machines))


def _machines(request: Request, down: bool):
    def act(source, body: bytes) -> None:
        machines = maintenance.parse_machines(_json(body))
        authorize(request, "start_maintenances" if down else "stop_maintenances", f"{len(machines)} machine(s)")
        (writes.machines_down if down else writes.machines_up)(source, machines)

    return act


async def machine_down(request: Request) -> Response:
    return await _write(request, _machines(request, down=True))


async def machine_up(request: Request) -> Response:
    return await _write(request, _machines(request, down=False))


routes = [
    Route("/master/weights", weights, methods=["GET", "PUT", "POST"]),
    Route("/weights", weights, methods=["GET", "PUT", "POST"]),
    Route("/master/quota", quota, methods=["GET", "POST"]),
    Route("/quota", quota, methods=["GET", "POST"]),
    Route("/master/quota/{role}", remove_quota, methods=["DELETE"]),
    Route("/master/teardown", teardown, methods=["POST"]),
    Route("/teardown", teardown, methods=["POST"]),
    *(Route(prefix + path, endpoint, methods=methods) for prefix in ("/master", "") for path, endpoint, methods in (
        ("/reserve", reserve, ["POST"]),
        ("/unreserve", unreserve, ["POST"]),
        ("/maintenance/schedule", maintenance_schedule, ["GET", "POST"]),
        ("/maintenance/status", maintenance_status, ["GET"]),
        ("/machine/down", machine_down, ["POST"]),
        ("/machine/up", machine_up, ["POST"]),
    )),
]
