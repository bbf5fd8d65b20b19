"""The streaming and counting side of the API: `/v2/events` (server-sent events with
Marathon's `eventType` names, filtered by `event_type`) and `/metrics` (Marathon 1.7's JSON
shape: gauges and counters).

>>> sse({"eventType": "ping_event"})
b'event: ping_event\\ndata: {"eventType": "ping_event"}\\n\\n'
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from actors.frameworks.services.timefmt import iso

KEEPALIVE_SECONDS = 15.0


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['eventType']}\ndata: {json.dumps(event)}\n\n".encode()


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def events_endpoint(scheduler: Any) -> Callable:
    async def events(request: Request) -> Response:
        types = set(request.query_params.getlist("event_type")) or None
        bus = scheduler.events
        sub = bus.subscribe(types)

        async def stream():
            try:
                if types is None or "event_stream_attached" in types:
                    yield sse({"eventType": "event_stream_attached", "remoteAddress": client_address(request),
                               "timestamp": iso(time.time())})
                while True:
                    try:
                        event = await asyncio.wait_for(sub.queue.get(), timeout=KEEPALIVE_SECONDS)
                    except asyncio.TimeoutError:
                        yield b"\n"  # keeps proxies from closing an idle stream
                        continue
                    if sub.dropped:  # too slow a reader: detached rather than buffered without end
                        break
                    yield sse(event)
            finally:
                bus.unsubscribe(sub)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return events


def metrics_endpoint(answer: Callable) -> Callable:
    async def metrics(request: Request) -> Response:
        def fn(s: Any) -> Response:
            apps = s.services.apps.values()
            tasks = [t for a in apps for t in a.tasks.values()]
            gauges = {
                "marathon.apps.active.gauge": {"value": len(s.services.apps)},
                "marathon.deployments.active.gauge": {"value": len(s.services.deployments)},
                "marathon.instances.running.gauge": {"value": sum(1 for t in tasks if t.running)},
                "marathon.instances.staged.gauge": {"value": sum(1 for t in tasks if not t.running)},
                "marathon.instances.launch-overdue.gauge": {"value": sum(1 for a in apps if a.waiting_since is not None)},
                "marathon.http.event-streams.active.gauge": {"value": s.events.attached},
            }
            counters = {f"marathon.events.{k}.counter": {"count": v} for k, v in sorted(s.events.counts.items())}
            return JSONResponse({"version": "4.0.0", "gauges": gauges, "counters": counters, "histograms": {},
                                 "meters": {}, "timers": {}, "start": iso(s.started_at), "end": iso(time.time())})
        return await answer(fn)

    return metrics
