"""Chronos' API in process (Starlette's test client over a JobsScheduler on a memory
transport): status codes, error bodies, bounds on hostile input, search and stats."""

from __future__ import annotations

import pytest
import httpx

from actors.frameworks.hosting import MemoryStore
from actors.frameworks.jobs import JobsScheduler, build_app
from actors.http import HttpServer
from actors.runtime import ActorContext, IdSource


@pytest.fixture
def api(transport, clock, got):
    handle = JobsScheduler.run(transport, context=ActorContext(clock=clock, ids=IdSource("fw"), seed=1),
                               user="tester", store=MemoryStore())
    transport.settle()
    server = HttpServer(build_app(handle), "127.0.0.1", 0).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()
        handle.ref.stop()


def job(name: str, **fields) -> dict:
    return {"name": name, "command": f"echo {name}", "owner": "", **fields}


def test_create_read_search_delete(api) -> None:
    assert api.post("/v1/scheduler/iso8601", json=job("a", schedule="R/2030-01-01T00:00:00Z/PT1H")).status_code == 204
    assert api.post("/v1/scheduler/dependency", json=job("b", parents=["a"])).status_code == 204
    a = api.get("/v1/scheduler/job/a").json()
    assert list(a)[:3] == ["name", "command", "shell"] and a["retries"] == 2 and a["epsilon"] == "PT3600S"
    assert [j["name"] for j in api.get("/v1/scheduler/jobs/search", params={"any": "b"}).json()] == ["b"]
    assert [j["name"] for j in api.get("/v1/scheduler/jobs/search", params={"limit": 1, "offset": 1}).json()] == ["b"]
    summary = api.get("/v1/scheduler/jobs/summary").json()["jobs"]
    assert summary[1] == {"name": "b", "status": "fresh", "state": "idle", "schedule": "", "parents": ["a"],
                          "disabled": False}
    assert api.delete("/v1/scheduler/job/a").status_code == 400  # still a parent
    assert api.delete("/v1/scheduler/job/b").status_code == 204
    assert api.get("/v1/scheduler/job/b").status_code == 404
    assert api.put("/v1/scheduler/job/a", params={"arguments": "x y"}).status_code == 204
    assert api.put("/v1/scheduler/job/nope").status_code == 404
    assert api.delete("/v1/scheduler/task/kill/a").status_code == 204


@pytest.mark.parametrize("body, text", [
    (b"[1, 2]", "expected a JSON object"),
    (b"{not json", "invalid JSON"),
    (b'{"name": "x", "command": "y"}', "schedule: required"),
    (b'{"name": "x", "command": "y", "schedule": "R//PT1H", "cpus": "lots"}', "cpus"),
    (b'{"name": "x", "command": "y", "schedule": "R//PT1H", "scheduleTimeZone": "Mars/Base"}', "Mars/Base"),
    (b'{"name": "x", "command": "y", "schedule": "R//PT1H", "constraints": [["a", "NEAR", "b"]]}', "NEAR"),
    (b'{"name": "' + b"n" * 300 + b'", "command": "y", "schedule": "R//PT1H"}', "use letters"),
    (b'{"name": "x", "command": "y", "schedule": "R//PT1H", "arguments": [' + b'"a",' * 300 + b'"a"]}', "arguments"),
    (b" " * (2**20 + 1), "larger than"),
    (b"[" * 100_000, "nested too deeply"),  # RecursionError: was a 500
    (b'{"name": "x", "command": "y", "schedule": "R/2030-01-01T00:00:00+99:99/PT1H"}', "bad start"),
    (b'{"name": "x", "command": "y", "schedule": "R/2030-01-01T00:00:00Z/P99999999999Y"}', "too long"),
])
def test_bad_input_is_a_400_naming_what_is_wrong(api, body: bytes, text: str) -> None:
    answer = api.post("/v1/scheduler/iso8601", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == "Bad Request" and text in answer.json()["message"]


def test_stats_graph_and_metrics_answer_with_no_runs(api) -> None:
    api.post("/v1/scheduler/iso8601", json=job("a", schedule="R/2030-01-01T00:00:00Z/PT1H"))
    assert api.get("/v1/scheduler/stats/99thPercentile").json() == []
    assert api.get("/v1/scheduler/stats/12thPercentile").status_code == 400
    assert api.get("/v1/scheduler/job/stat/a").json()["histogram"]["count"] == 0
    assert api.get("/v1/scheduler/graph/csv").text == "node,a,fresh,idle\n"
    assert api.get("/metrics").json()["gauges"]["jobs.count"] == {"value": 1}
    assert "<td>a</td>" in api.get("/").text
