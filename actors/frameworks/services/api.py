"""Marathon's v2 REST API over the services scheduler: a table of routes to small
functions; each runs its work on the scheduler's thread (`call`) and answers with the
shapes of shapes.py. See docs/services.md for the table and the differences.
"""

from __future__ import annotations

import socket
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from actors.frameworks.services import groups as groups_module
from actors.frameworks.services import shapes, streams
from actors.frameworks.services.appdef import AppInvalid
from actors.frameworks.services.errors import BadRequest, Conflict, NotFound
from actors.frameworks.services.paths import normalize_id
from actors.frameworks.services.scheduler import ServicesScheduler, call
from actors.frameworks.services.timefmt import iso
from actors.http.body import json_body

MAX_BODY = 1 * 2**20
VERSION = "1.4.0"


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("true", "1", "yes")


class _Api:
    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def run(self, fn: Callable[[ServicesScheduler], Any]) -> Any:
        return await run_in_threadpool(call, self.handle, fn)

    async def answer(self, fn: Callable[[ServicesScheduler], Response]) -> Response:
        try:
            return await self.run(fn)
        except AppInvalid as err:
            return JSONResponse(err.body(), status_code=422)
        except NotFound as err:
            return JSONResponse({"message": str(err)}, status_code=404)
        except Conflict as err:
            return JSONResponse({"message": str(err), "deployments": [{"id": d} for d in err.deployments]},
                                status_code=409)
        except BadRequest as err:
            return JSONResponse({"message": str(err)}, status_code=400)

    async def body(self, request: Request) -> Any:
        return await json_body(request, MAX_BODY)


def build_app(handle: Any) -> Starlette:
    """The Starlette app serving Marathon's API for a running ServicesScheduler."""
    api = _Api(handle)
    scheduler: ServicesScheduler = handle.scheduler

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    async def info(request: Request) -> Response:
        host = request.url.netloc
        return JSONResponse({
            "name": "marathon", "version": VERSION, "buildref": "mesobus", "elected": True, "leader": host,
            "frameworkId": handle.framework_id,
            "marathon_config": {"framework_name": scheduler.framework_info.name, "hostname": socket.gethostname(),
                                "mesos_role": scheduler.framework_info.roles[0],
                                "failover_timeout": int(scheduler.framework_info.failover_timeout),
                                "checkpoint": scheduler.framework_info.checkpoint, "ha": True,
                                "mesos_user": scheduler.framework_info.user, "master": scheduler._driver.master},
            "zookeeper_config": {}, "http_config": {"http_port": request.url.port}, "event_subscriber": None,
        })

    async def leader(request: Request) -> Response:
        return JSONResponse({"leader": request.url.netloc})

    # --- apps ---------------------------------------------------------------------------

    async def list_apps(request: Request) -> Response:
        embed = shapes.embeds(request.query_params.getlist("embed"), set())
        cmd, ident = request.query_params.get("cmd"), request.query_params.get("id")
        label = request.query_params.get("label")

        def fn(s: ServicesScheduler) -> Response:
            out = []
            for app in s.services.apps.values():
                d = app.definition
                if cmd and cmd not in (d.get("cmd") or ""):
                    continue
                if ident and ident not in d["id"]:
                    continue
                if label and not _label_matches(d.get("labels") or {}, label):
                    continue
                one = shapes.app_json(app, s.services._deployments_of(app.id), embed)
                out.append((one, shapes.cache_key(app, one)))
            return out
        apps = await api.run(fn)
        # encoded here, on the HTTP thread: the scheduler's thread only gathered the values
        if all(key is not None for _, key in apps):
            body = await run_in_threadpool(shapes.encode_apps, [a for a, _ in apps], [k for _, k in apps])
            return Response(body, media_type="application/json")
        return await run_in_threadpool(JSONResponse, {"apps": [a for a, _ in apps]})

    async def create_app(request: Request) -> Response:
        try:
            body = await api.body(request)
        except BadRequest as err:
            return JSONResponse({"message": str(err)}, status_code=400)
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            app, deployment, _ = s.services.put_app(body, force=force, create_only=True)
            s.events.publish({"eventType": "api_post_event", "timestamp": iso(s.now()), "clientIp": _client(request),
                              "uri": request.url.path, "appDefinition": shapes.definition_json(app.definition)})
            out = shapes.app_json(app, [deployment.id] if deployment else [], {shapes.COUNTS, shapes.DEPLOYMENTS})
            return JSONResponse(out, status_code=201, headers={"Location": f"/v2/apps{app.id}"})
        return await api.answer(fn)

    async def get_app(request: Request) -> Response:
        app_id = normalize_id(request.path_params["app_id"])
        if app_id.endswith("/versions") or "/versions/" in app_id:
            return await versions(request)
        if app_id.endswith("/tasks"):
            return await app_tasks(request)
        embed = shapes.embeds(request.query_params.getlist("embed"),
                              {shapes.COUNTS, shapes.DEPLOYMENTS, shapes.TASKS, shapes.FAILURE})

        def fn(s: ServicesScheduler) -> Response:
            app = s.services.app(app_id)
            return JSONResponse({"app": shapes.app_json(app, s.services._deployments_of(app.id), embed)})
        return await api.answer(fn)

    async def put_app(request: Request) -> Response:
        app_id = normalize_id(request.path_params["app_id"])
        if app_id.endswith("/restart"):
            return await restart(request)
        try:
            body = await api.body(request)
        except BadRequest as err:
            return JSONResponse({"message": str(err)}, status_code=400)
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            if isinstance(body, dict) and isinstance(body.get("id"), str) and normalize_id(body["id"]) != app_id:
                raise BadRequest(f"the id in the body ({body['id']}) is not the one in the path ({app_id})")
            app, deployment, created = s.services.put_app(body, app_id=app_id, force=force)
            s.events.publish({"eventType": "api_post_event", "timestamp": iso(s.now()), "clientIp": _client(request),
                              "uri": request.url.path, "appDefinition": shapes.definition_json(app.definition)})
            result = {"version": app.definition["version"], "deploymentId": deployment.id if deployment else None}
            if created:
                return JSONResponse(result, status_code=201, headers={"Location": f"/v2/apps{app.id}"})
            return JSONResponse(result)
        return await api.answer(fn)

    async def delete_app(request: Request) -> Response:
        app_id = normalize_id(request.path_params["app_id"])
        if "/tasks" in app_id:
            return await kill_app_tasks(request)
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            d = s.services.delete_app(app_id, force)
            return JSONResponse({"version": d.version, "deploymentId": d.id})
        return await api.answer(fn)

    async def restart(request: Request) -> Response:
        app_id = normalize_id(request.path_params["app_id"]).removesuffix("/restart")
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            d = s.services.restart_app(app_id, force)
            return JSONResponse({"version": d.version, "deploymentId": d.id})
        return await api.answer(fn)

    async def versions(request: Request) -> Response:
        path = normalize_id(request.path_params["app_id"])
        app_id, _, version = path.partition("/versions")
        version = version.strip("/")

        def fn(s: ServicesScheduler) -> Response:
            if version:
                return JSONResponse(shapes.definition_json(s.services.version(app_id, version)))
            return JSONResponse({"versions": s.services.versions(app_id)})
        return await api.answer(fn)

    # --- tasks --------------------------------------------------------------------------

    async def app_tasks(request: Request) -> Response:
        app_id = normalize_id(request.path_params["app_id"]).removesuffix("/tasks")

        def fn(s: ServicesScheduler) -> Response:
            app = s.services.app(app_id)
            return JSONResponse({"tasks": [shapes.task_json(app, t) for t in app.tasks.values()]})
        return await api.answer(fn)

    async def kill_app_tasks(request: Request) -> Response:
        path = normalize_id(request.path_params["app_id"])
        app_id, _, task_id = path.partition("/tasks")
        task_id = task_id.strip("/")
        host, scale = request.query_params.get("host"), _flag(request, "scale")
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            app = s.services.app(app_id)
            if task_id:
                if task_id not in app.tasks:
                    raise NotFound(f"Task '{task_id}' does not exist")
                chosen = [app.tasks[task_id]]
            else:
                chosen = [t for t in app.tasks.values() if host in (None, "*", t.host)]
            killed, deployment = s.services.kill_tasks([(app, t) for t in chosen], scale=scale, force=force)
            if scale and deployment is not None:
                return JSONResponse({"version": deployment.version, "deploymentId": deployment.id})
            tasks = [shapes.task_json(app, t) for t in killed]
            return JSONResponse({"task": tasks[0]} if task_id else {"tasks": tasks})
        return await api.answer(fn)

    async def all_tasks(request: Request) -> Response:
        wanted = {v.lower() for v in request.query_params.getlist("status")}

        def fn(s: ServicesScheduler) -> Response:
            out = []
            for app in s.services.apps.values():
                for t in app.tasks.values():
                    if not wanted or t.state.removeprefix("TASK_").lower() in wanted:
                        out.append(shapes.task_json(app, t))
            return JSONResponse({"tasks": out})
        return await api.answer(fn)

    async def delete_tasks(request: Request) -> Response:
        try:
            body = await api.body(request)
        except BadRequest as err:
            return JSONResponse({"message": str(err)}, status_code=400)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return JSONResponse({"message": "expected {\"ids\": [task ids]}"}, status_code=400)
        scale = _flag(request, "scale")

        def fn(s: ServicesScheduler) -> Response:
            pairs = s.services.tasks_by_id(ids)
            killed, deployment = s.services.kill_tasks(pairs, scale=scale, force=_flag(request, "force"))
            if scale and deployment is not None:
                return JSONResponse({"version": deployment.version, "deploymentId": deployment.id})
            return JSONResponse({"tasks": [shapes.task_json(a, t) for a, t in pairs]})
        return await api.answer(fn)

    # --- groups, deployments, queue -----------------------------------------------------------

    async def groups(request: Request) -> Response:
        group_id = normalize_id(request.path_params.get("group_id", "/"))
        embed = {shapes.COUNTS, shapes.DEPLOYMENTS}

        def fn(s: ServicesScheduler) -> Response:
            apps = [shapes.app_json(a, s.services._deployments_of(a.id), embed) for a in s.services.apps.values()]
            prefix = group_id.rstrip("/") + "/"
            inside = [a for a in apps if a["id"].startswith(prefix)]
            if group_id != "/" and not inside:
                raise NotFound(f"Group '{group_id}' does not exist")
            version = max((a["version"] for a in inside), default=iso(s.started_at))
            return JSONResponse(shapes.group_json(group_id, inside, version))
        return await api.answer(fn)

    async def change_group(request: Request) -> Response:
        group_id = request.path_params.get("group_id")
        group_id = normalize_id(group_id) if group_id else None
        try:
            body = await api.body(request)
        except BadRequest as err:
            return JSONResponse({"message": str(err)}, status_code=400)
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            d = groups_module.put_group(s.services, body, group_id=group_id, force=force)
            if d is None:
                raise BadRequest("the group holds no app to deploy")
            created = request.method == "POST"
            return JSONResponse({"version": d.version, "deploymentId": d.id}, status_code=201 if created else 200,
                                headers={"Location": f"/v2/groups{group_id or ''}"} if created else None)
        return await api.answer(fn)

    async def delete_group(request: Request) -> Response:
        group_id = normalize_id(request.path_params.get("group_id", "/"))
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            d = groups_module.delete_group(s.services, group_id, force=force)
            return JSONResponse({"version": d.version, "deploymentId": d.id})
        return await api.answer(fn)

    async def deployments(request: Request) -> Response:
        def fn(s: ServicesScheduler) -> Response:
            return JSONResponse([shapes.deployment_json(d, s.services.readiness_results)
                                 for d in s.services.deployments.values()])
        return await api.answer(fn)

    async def cancel_deployment(request: Request) -> Response:
        deployment_id = request.path_params["deployment_id"]
        force = _flag(request, "force")

        def fn(s: ServicesScheduler) -> Response:
            rollback = s.services.cancel_deployment(deployment_id, force)
            if rollback is None:
                return Response(status_code=202)
            return JSONResponse({"deploymentId": rollback.id, "version": rollback.version})
        return await api.answer(fn)

    async def queue(request: Request) -> Response:
        offers = "lastUnusedOffers" in ",".join(request.query_params.getlist("embed"))

        def fn(s: ServicesScheduler) -> Response:
            now = s.now()
            out = []
            for app in s.services.apps.values():
                if app.waiting_since is None:
                    continue
                from actors.frameworks.services.rollout import plan

                count, _ = plan(app)
                if count > 0:
                    entry = shapes.queue_json(app, count, now)
                    if not offers:  # as Marathon: only when asked for
                        del entry["lastUnusedOffers"]
                    out.append(entry)
            return JSONResponse({"queue": out})
        return await api.answer(fn)

    async def reset_delay(request: Request) -> Response:
        app_id = normalize_id(request.path_params["app_id"]).removesuffix("/delay")

        def fn(s: ServicesScheduler) -> Response:
            s.services.app(app_id)
            s.services.reset_delay(app_id)
            return Response(status_code=204)
        return await api.answer(fn)

    routes = [
        Route("/ping", ping, methods=["GET", "HEAD"]),
        Route("/v2/info", info),
        Route("/v2/leader", leader),
        Route("/v2/apps", list_apps, methods=["GET"]),
        Route("/v2/apps", create_app, methods=["POST"]),
        Route("/v2/apps/{app_id:path}/restart", restart, methods=["POST"]),
        Route("/v2/apps/{app_id:path}", get_app, methods=["GET"]),
        Route("/v2/apps/{app_id:path}", put_app, methods=["PUT", "PATCH"]),
        Route("/v2/apps/{app_id:path}", delete_app, methods=["DELETE"]),
        Route("/v2/tasks", all_tasks, methods=["GET"]),
        Route("/v2/tasks/delete", delete_tasks, methods=["POST"]),
        Route("/v2/groups", groups, methods=["GET"]),
        Route("/v2/groups/{group_id:path}", groups, methods=["GET"]),
        Route("/v2/groups", change_group, methods=["POST", "PUT"]),
        Route("/v2/groups/{group_id:path}", change_group, methods=["POST", "PUT"]),
        Route("/v2/groups/{group_id:path}", delete_group, methods=["DELETE"]),
        Route("/v2/deployments", deployments, methods=["GET"]),
        Route("/v2/deployments/{deployment_id}", cancel_deployment, methods=["DELETE"]),
        Route("/v2/queue", queue, methods=["GET"]),
        Route("/v2/queue/{app_id:path}/delay", reset_delay, methods=["DELETE"]),
        Route("/v2/events", streams.events_endpoint(scheduler), methods=["GET"]),
        Route("/metrics", streams.metrics_endpoint(api.answer), methods=["GET"]),
    ]
    return Starlette(routes=routes)


_client = streams.client_address


def _label_matches(labels: dict[str, str], selector: str) -> bool:
    """Marathon's label selector: `key`, `key==value`, `key!=value`, comma-separated (all must hold)."""
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "==" in term:
            k, v = term.split("==", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term and term not in labels:
            return False
    return True
