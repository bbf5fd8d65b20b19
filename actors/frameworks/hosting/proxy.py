"""What a standby framework process serves: every request forwarded to the leader and
its answer streamed back (Marathon's standbys proxy; so do Chronos'), `/v2/events`
included, so a client may be pointed at any process of the framework.

Answered here, not forwarded: `/ping` (a load balancer asks each process) and
`/v2/leader` (where the leader is). No leader known yet: 503. The leader not answering:
502, or 504 when it did not answer in time: every forwarded request is bounded
(connect 5 s; 30 s between two chunks of the answer, 60 s for an event stream, whose
leader sends a keep-alive every 15 s). A request that already came through a standby is
not forwarded again (a stale leader address pointing back at a standby would loop).

    app = StandbyProxy(lambda: "http://10.0.0.2:8080")   # the leader's URL, or None
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from actors.http.body import BadRequest, bounded_body

log = logging.getLogger(__name__)

MAX_BODY = 16 * 2**20
VIA = "1.1 mesobus-standby"
LOCAL_PATHS = ("/ping", "/v2/leader")
# hop-by-hop headers (RFC 9110 7.6.1) and the ones the next hop sets itself
DROPPED = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
           "trailer", "transfer-encoding", "upgrade", "host", "content-length"}
TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
STREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=30.0, pool=5.0)


class StandbyProxy:
    """An ASGI app forwarding to the URL `leader()` returns (called on a worker thread:
    it may read the state store)."""

    def __init__(self, leader: Callable[[], str | None]) -> None:
        self.leader = leader
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/ping":  # before the leader is looked up: that reads the store, which may be slow
            await _answer(send, 200, b"pong", b"text/plain; charset=utf-8")
            return
        url = await run_in_threadpool(self.leader)
        if path == "/v2/leader":
            if url:
                await _json(send, 200, {"leader": httpx.URL(url).netloc.decode()})
            else:
                await _json(send, 404, {"message": "There is no leader"})
        elif not url:
            await _json(send, 503, {"message": "no leader elected yet"})
        elif any(name == b"via" and VIA.encode() in value for name, value in scope.get("headers", ())):
            await _json(send, 503, {"message": f"the leader's address ({url}) leads to a standby; try again soon"})
        else:
            await self._forward(url, scope, receive, send)

    async def _forward(self, url: str, scope: dict, receive: Any, send: Any) -> None:
        try:
            body = await bounded_body(Request(scope, receive), MAX_BODY)
        except BadRequest as err:
            await _json(send, 413, {"message": str(err)})
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", ())
                   if k.decode("latin-1").lower() not in DROPPED]
        client = scope.get("client")
        headers += [("via", VIA), ("x-forwarded-for", client[0] if client else "")]
        query = scope.get("query_string", b"").decode("latin-1")
        # the path as the client wrote it: the decoded one would turn an escaped '?' or '#' into syntax
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        target = url.rstrip("/") + path + (f"?{query}" if query else "")
        streaming = scope["path"] == "/v2/events"
        request = self.client.build_request(scope["method"], target, headers=headers, content=body,
                                            timeout=STREAM_TIMEOUT if streaming else TIMEOUT)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            await _json(send, 504, {"message": f"the leader at {url} did not answer in time"})
            return
        except httpx.HTTPError as err:
            await _json(send, 502, {"message": f"the leader at {url} did not answer: {err or type(err).__name__}"})
            return
        try:
            await self._relay(response, receive, send)
        finally:
            await response.aclose()

    async def _relay(self, response: httpx.Response, receive: Any, send: Any) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()
                   if k.lower() not in DROPPED and k.lower() not in ("date", "server")]  # (set by this server)
        if "content-length" in response.headers and "transfer-encoding" not in response.headers:
            headers.append((b"content-length", response.headers["content-length"].encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        gone = asyncio.ensure_future(_disconnected(receive))  # a client that leaves ends the relay
        try:
            chunks = response.aiter_raw().__aiter__()
            while True:
                step = asyncio.ensure_future(chunks.__anext__())
                done, _ = await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    step.cancel()
                    return
                try:
                    chunk = step.result()
                except StopAsyncIteration:
                    break
                except httpx.HTTPError as err:  # the answer had begun: all we can do is end it
                    log.warning("standby: the leader's answer broke off: %s", err)
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made on the server's event loop, where it is used
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False,
                                             limits=httpx.Limits(max_connections=100))
        return self._client


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _answer(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, value: Any) -> None:
    await _answer(send, status, json.dumps(value).encode(), b"application/json")
