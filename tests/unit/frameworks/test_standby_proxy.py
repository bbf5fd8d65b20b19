"""A standby framework process forwards to the leader: methods, bodies, query strings,
status codes and headers pass through, an event stream is relayed as it comes; `/ping`
and `/v2/leader` are answered locally; no leader, a leader gone, a loop: clear errors."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from actors.frameworks.hosting.proxy import StandbyProxy
from actors.http import HttpServer


async def echo(request: Request):
    body = await request.body()
    return JSONResponse({"method": request.method, "path": request.url.path, "query": str(request.query_params),
                         "body": body.decode(), "via": request.headers.get("via")},
                        status_code=201, headers={"Location": "/v2/apps/x"})


async def events(request: Request):
    async def stream():
        for i in range(3):
            yield f"event: e{i}\ndata: {{}}\n\n".encode()
            await asyncio.sleep(0.05)
    return StreamingResponse(stream(), media_type="text/event-stream")


async def ping(request: Request):
    return PlainTextResponse("leader pong")


@pytest.fixture(scope="module")
def leader():
    app = Starlette(routes=[Route("/ping", ping), Route("/v2/events", events),
                            Route("/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE"])])
    server = HttpServer(app, "127.0.0.1", 0).start()
    yield server.url
    server.stop()


@pytest.fixture()
def standby(leader):
    target = {"url": leader}
    server = HttpServer(StandbyProxy(lambda: target["url"]), "127.0.0.1", 0).start()
    yield server.url, target
    server.stop()


def test_calls_are_forwarded_with_body_query_status_and_headers(standby) -> None:
    url, _ = standby
    answer = httpx.put(url + "/v2/apps/web?force=true", json={"instances": 2}, timeout=10)
    assert answer.status_code == 201 and answer.headers["location"] == "/v2/apps/x"
    got = answer.json()
    assert got["method"] == "PUT" and got["path"] == "/v2/apps/web" and got["query"] == "force=true"
    assert json.loads(got["body"]) == {"instances": 2} and "mesobus-standby" in got["via"]


def test_ping_and_leader_are_answered_here(standby, leader) -> None:
    url, _ = standby
    assert httpx.get(url + "/ping", timeout=10).text == "pong"
    assert httpx.get(url + "/v2/leader", timeout=10).json() == {"leader": leader.removeprefix("http://")}


def test_an_event_stream_is_relayed(standby) -> None:
    url, _ = standby
    with httpx.stream("GET", url + "/v2/events", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    assert [line for line in text.splitlines() if line.startswith("event:")] == ["event: e0", "event: e1", "event: e2"]


def test_no_leader_a_gone_leader_and_a_loop_are_clear_errors(standby) -> None:
    url, target = standby
    target["url"] = None
    assert httpx.get(url + "/v2/apps", timeout=10).status_code == 503
    gone = HttpServer(PlainTextResponse("x"), "127.0.0.1", 0).start()
    port = gone.port
    gone.stop()
    target["url"] = f"http://127.0.0.1:{port}"  # nobody listens there now
    answer = httpx.get(url + "/v2/apps", timeout=10)
    assert answer.status_code == 502 and "did not answer" in answer.json()["message"]
    target["url"] = url  # the store names this standby itself: refused, not looped
    answer = httpx.get(url + "/v2/apps", timeout=10)
    assert answer.status_code == 503 and "standby" in answer.json()["message"]


def test_the_path_is_forwarded_as_the_client_wrote_it(standby) -> None:
    """An escaped '?', '#' or '/' in a path stays escaped: the leader sees what it would
    see asked directly (forwarding the decoded path made '/v2/apps/a%3Fx' a request for
    '/v2/apps/a' with the query 'x')."""
    url, target = standby
    for raw in ("/v2/apps/a%3Fx", "/v2/apps/a%23b", "/v2/apps/a%2Fb", "/v2/apps/a%20b"):
        direct = httpx.get(target["url"] + raw + "?embed=app.tasks", timeout=10).json()
        answer = httpx.get(url + raw + "?embed=app.tasks", timeout=10)
        assert answer.status_code == 201, (raw, answer.text)
        assert (answer.json()["path"], answer.json()["query"]) == (direct["path"], "embed=app.tasks"), raw


def test_a_redirecting_standby_keeps_the_paths_escapes(leader) -> None:
    """Without --proxy a standby answers 307 to the leader; '/v2/apps/a%3Fx' went to
    '/v2/apps/a?x' (another app, with a query)."""
    from actors.frameworks.hosting import MemoryStore
    from actors.frameworks.hosting.runner import LEADER_KEY, _standby_app

    store = MemoryStore({LEADER_KEY: {"url": leader}})
    server = HttpServer(_standby_app(store), "127.0.0.1", 0).start()
    try:
        answer = httpx.get(server.url + "/v2/apps/a%3Fx?embed=app.tasks", timeout=10)
        assert answer.status_code == 307
        assert answer.headers["location"] == leader + "/v2/apps/a%3Fx?embed=app.tasks"
    finally:
        server.stop()


def test_ping_does_not_wait_for_the_leaders_address() -> None:
    """A load balancer's /ping got its pong only after the leader's address was read from
    the store (slow or hanging while the broker is)."""
    import threading
    import time

    release = threading.Event()

    def slow_leader() -> str | None:
        release.wait(10)
        return None

    server = HttpServer(StandbyProxy(slow_leader), "127.0.0.1", 0).start()
    try:
        started = time.monotonic()
        answer = httpx.get(server.url + "/ping", timeout=10)
        assert answer.status_code == 200 and answer.text == "pong"
        assert time.monotonic() - started < 5
    finally:
        release.set()
        server.stop()
