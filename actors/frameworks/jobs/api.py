"""Chronos' REST API over the jobs scheduler: a table of routes to small functions; each
runs its work on the scheduler's thread (`call`). Errors are Chronos' `{"message",
"status"}` with its status codes. See docs/jobs.md for the table and the differences.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from actors.frameworks.jobs import graph
from actors.frameworks.jobs.core import NotFound
from actors.frameworks.jobs.model import JobInvalid, is_dependent
from actors.frameworks.jobs.page import render_page
from actors.frameworks.jobs.scheduler import JobsScheduler, call
from actors.frameworks.jobs.stats import PERCENTILES
from actors.http.body import BadRequest, json_body

MAX_BODY = 1 * 2**20
MAX_ARGUMENTS = 256
NO_CONTENT = 204


def _error(message: str, status: int) -> JSONResponse:
    names = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    return JSONResponse({"message": message, "status": names.get(status, str(status))}, status_code=status)


def build_app(handle: Any) -> Starlette:
    """The Starlette app serving Chronos' API for a running JobsScheduler."""

    async def run(fn: Callable[[JobsScheduler], Any]) -> Any:
        return await run_in_threadpool(call, handle, fn)

    async def answer(fn: Callable[[JobsScheduler], Response]) -> Response:
        try:
            return await run(fn)
        except (JobInvalid, BadRequest) as err:
            return _error(str(err), 400)
        except NotFound as err:
            return _error(f"job {err.args[0]!r} not found", 404)

    async def body(request: Request) -> Any:
        return await json_body(request, MAX_BODY)

    def put_job(dependent: bool) -> Callable:
        async def endpoint(request: Request) -> Response:
            try:
                data = await body(request)
            except BadRequest as err:
                return _error(str(err), 400)
            return await answer(lambda s: (s.jobs.put(data, dependent=dependent), Response(status_code=NO_CONTENT))[1])
        return endpoint

    async def all_jobs(request: Request) -> Response:
        return await answer(lambda s: JSONResponse([s.jobs.view(n) for n in sorted(s.jobs.jobs)]))

    def _summary(s: JobsScheduler, name: str) -> dict:
        job = s.jobs.jobs[name]
        return {"name": name, "status": s.jobs.stats[name].last_result(), "state": s.jobs.state_of(name),
                "schedule": s.jobs.view(name).get("schedule", ""), "parents": list(job.get("parents", [])),
                "disabled": job["disabled"]}

    async def summary(request: Request) -> Response:
        return await answer(lambda s: JSONResponse({"jobs": [_summary(s, n) for n in sorted(s.jobs.jobs)]}))

    async def search(request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit") or 10)
            offset = int(q.get("offset") or 0)
        except ValueError:
            return _error("limit and offset must be integers", 400)
        if limit < 0 or offset < 0:
            return _error("limit and offset must not be negative", 400)
        name, command, anything = (q.get(k, "").lower() for k in ("name", "command", "any"))

        def matches(job: dict) -> bool:
            # name and command must both match when given; `any` (name or command) is an
            # alternative to them. Chronos lets every job through when only `any` is given.
            fields = (not name or name in job["name"].lower()) and (not command or command in job["command"].lower())
            alternative = bool(anything) and (anything in job["name"].lower() or anything in job["command"].lower())
            return alternative if anything and not (name or command) else fields or alternative

        def found(s: JobsScheduler) -> Response:
            names = [n for n in sorted(s.jobs.jobs) if matches(s.jobs.jobs[n])]
            return JSONResponse([s.jobs.view(n) for n in names[offset:offset + limit]])

        return await answer(found)

    async def get_job(request: Request) -> Response:
        name = request.path_params["name"]
        return await answer(lambda s: JSONResponse(s.jobs.view(name)))

    async def start_job(request: Request) -> Response:
        name = request.path_params["name"]
        text = request.query_params.get("arguments")
        arguments = None if text is None else [a for a in text.split(" ") if a][:MAX_ARGUMENTS]
        return await answer(lambda s: (s.jobs.start_now(name, arguments), Response(status_code=NO_CONTENT))[1])

    async def delete_job(request: Request) -> Response:
        name = request.path_params["name"]
        return await answer(lambda s: (s.jobs.delete(name), Response(status_code=NO_CONTENT))[1])

    async def mark_success(request: Request) -> Response:
        name = request.path_params["name"]

        def mark(s: JobsScheduler) -> Response:
            s.jobs.get(name)
            s.jobs.mark_success(name)
            return PlainTextResponse(f"marked job {name} as successful: true")

        return await answer(mark)

    async def job_stat(request: Request) -> Response:
        name = request.path_params["name"]

        def stat(s: JobsScheduler) -> Response:
            s.jobs.get(name)
            st = s.jobs.stats[name]
            history = [{"jobName": name, "elapsedTime": t} for t in st.times[-20:]]
            return JSONResponse({"histogram": st.histogram(), "taskStatHistory": history})

        return await answer(stat)

    async def kill_tasks(request: Request) -> Response:
        name = request.path_params["name"]
        return await answer(lambda s: (s.jobs.kill_tasks(name), Response(status_code=NO_CONTENT))[1])

    async def graph_dot(request: Request) -> Response:
        return await answer(lambda s: PlainTextResponse(graph.dot(s.jobs.jobs, _results(s))))

    async def graph_csv(request: Request) -> Response:
        return await answer(lambda s: PlainTextResponse(graph.csv(
            s.jobs.jobs, _results(s), {n: s.jobs.state_of(n) for n in s.jobs.jobs})))

    async def percentile(request: Request) -> Response:
        which = request.path_params["which"]
        if which not in PERCENTILES and which != "mean":
            return _error(f"unknown statistic {which!r} (one of {', '.join([*PERCENTILES, 'mean'])})", 400)

        def values(s: JobsScheduler) -> Response:
            rows = [{"jobNameLabel": n, "time": s.jobs.stats[n].percentile(which)} for n in sorted(s.jobs.jobs)]
            return JSONResponse([r for r in rows if r["time"] is not None])

        return await answer(values)

    async def leader(request: Request) -> Response:
        return JSONResponse({"leader": request.url.netloc})

    async def is_master(request: Request) -> Response:
        return JSONResponse(True)

    async def metrics(request: Request) -> Response:
        def collect(s: JobsScheduler) -> Response:
            gauges = {"jobs.count": {"value": len(s.jobs.jobs)},
                      "jobs.runs.queued": {"value": sum(1 for r in s.jobs.runs.values() if not r.get("task"))},
                      "jobs.runs.running": {"value": sum(1 for r in s.jobs.runs.values() if r.get("task"))}}
            counters = {}
            for name, st in s.jobs.stats.items():
                counters[f"jobs.{name}.success"] = {"count": st.successCount}
                counters[f"jobs.{name}.failure"] = {"count": st.errorCount}
                counters[f"jobs.{name}.skipped"] = {"count": st.skipped}
            return JSONResponse({"version": "3.0.0", "gauges": gauges, "counters": counters,
                                 "histograms": {}, "meters": {}, "timers": {}})

        return await answer(collect)

    async def page(request: Request) -> Response:
        def render(s: JobsScheduler) -> Response:
            rows = [(n, s.jobs.next_run(n), s.jobs.stats[n].last_result(), s.jobs.state_of(n),
                     ", ".join(s.jobs.jobs[n].get("parents", [])) if is_dependent(s.jobs.jobs[n])
                     else s.jobs.view(n)["schedule"]) for n in sorted(s.jobs.jobs)]
            return HTMLResponse(render_page(rows, graph.dot(s.jobs.jobs, _results(s))))

        return await answer(render)

    base = "/v1/scheduler"
    routes = [
        Route("/", page),
        Route(f"{base}/jobs", all_jobs),
        Route(f"{base}/jobs/summary", summary),
        Route(f"{base}/jobs/search", search),
        Route(f"{base}/iso8601", put_job(False), methods=["POST", "PUT"]),
        Route(f"{base}/dependency", put_job(True), methods=["POST", "PUT"]),
        Route(f"{base}/job/success/{{name}}", mark_success, methods=["PUT", "POST"]),
        Route(f"{base}/job/stat/{{name}}", job_stat),
        Route(f"{base}/job/{{name}}", get_job, methods=["GET"]),
        Route(f"{base}/job/{{name}}", start_job, methods=["PUT"]),
        Route(f"{base}/job/{{name}}", delete_job, methods=["DELETE"]),
        Route(f"{base}/task/kill/{{name}}", kill_tasks, methods=["DELETE"]),
        Route(f"{base}/graph/dot", graph_dot),
        Route(f"{base}/graph/csv", graph_csv),
        Route(f"{base}/stats/{{which}}", percentile),
        Route(f"{base}/leader", leader),
        Route(f"{base}/isMaster", is_master),
        Route("/metrics", metrics),
    ]
    return Starlette(routes=routes)


def _results(s: JobsScheduler) -> dict[str, str]:
    return {n: s.jobs.stats[n].last_result() for n in s.jobs.jobs}
