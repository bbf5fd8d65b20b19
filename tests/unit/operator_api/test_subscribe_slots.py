"""A SUBSCRIBE answered but never sent (the client left before its first byte: the
stream's generator never starts) holds no subscriber slot: once MAX_SUBSCRIBERS such
calls had happened, every later SUBSCRIBE was a 503."""

from __future__ import annotations

import gc
from types import SimpleNamespace

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse

from actors.operator import subscribe as subscribe_module
from actors.operator.source import MasterSource


def _request() -> Request:
    source = MasterSource("127.0.0.1:5050")
    source.lead(publisher=SimpleNamespace(feed=None))  # leading; the streams below never run
    app = Starlette()
    app.state.source = source
    return Request({"type": "http", "app": app, "method": "POST", "path": "/api/v1", "headers": []})


def test_a_stream_never_started_gives_its_slot_back():
    before = subscribe_module._subscribers
    for _ in range(subscribe_module.MAX_SUBSCRIBERS + 1):
        answer = subscribe_module.subscribe(_request())
        assert isinstance(answer, StreamingResponse), answer.body
        del answer
    gc.collect()
    assert subscribe_module._subscribers == before
