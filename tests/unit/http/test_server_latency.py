"""Requests on a kept-alive connection are answered at once, not after the client's
delayed ACK (40 ms on Linux) as they were before the listening socket had TCP_NODELAY."""

from __future__ import annotations

import statistics
import time

import requests
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actors.http import HttpServer


def test_kept_alive_requests_do_not_wait_for_delayed_acks() -> None:
    async def ping(request):
        return PlainTextResponse("pong")

    server = HttpServer(Starlette(routes=[Route("/ping", ping)]), "127.0.0.1", 0).start()
    try:
        session = requests.Session()
        session.get(server.url + "/ping")
        times = []
        for _ in range(20):
            started = time.perf_counter()
            assert session.get(server.url + "/ping").text == "pong"
            times.append(time.perf_counter() - started)
    finally:
        server.stop()
    assert statistics.median(times) < 0.025, f"median {statistics.median(times) * 1000:.1f} ms"
