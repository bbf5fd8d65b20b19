"""The v1 `SUBSCRIBE` call: a RecordIO stream ("<length>\\n<JSON>" per event) of
`SUBSCRIBED` (the whole state), then `TASK_ADDED`, `TASK_UPDATED`, `AGENT_ADDED`,
`AGENT_REMOVED`, `FRAMEWORK_ADDED`, `FRAMEWORK_UPDATED`, `FRAMEWORK_REMOVED`, and a
`HEARTBEAT` every `HEARTBEAT_SECONDS`.

Events are found by comparing successive snapshots (polled every `POLL_SECONDS`), so a
task that changes twice between two polls is reported once, in its latest state.

>>> record({"type": "HEARTBEAT"})
b'20\\n{"type":"HEARTBEAT"}'
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from actors.master.snapshot import Snapshot
from actors.operator import shapes_v1
from actors.operator.authorize import visible
from actors.operator.respond import error, redirect_to_leader

POLL_SECONDS = 0.25
HEARTBEAT_SECONDS = 15.0
MAX_SUBSCRIBERS = 64

_subscribers = 0
_lock = threading.Lock()


def record(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":")).encode()
    return str(len(data)).encode() + b"\n" + data


def events_between(old: Snapshot, new: Snapshot) -> list[dict[str, Any]]:
    """What changed from `old` to `new`, in Mesos' order: frameworks and agents added
    before their tasks, removals after."""
    added: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    frameworks_before = {f.framework_id: f for f in old.frameworks}
    now_ids = set()
    for f in new.frameworks:
        now_ids.add(f.framework_id)
        was = frameworks_before.get(f.framework_id)
        if was is None:
            added.append({"type": "FRAMEWORK_ADDED", "framework_added": {"framework": shapes_v1.framework_v1(new, f)}})
        elif (was.active, was.connected, was.roles, was.name) != (f.active, f.connected, f.roles, f.name):
            added.append({"type": "FRAMEWORK_UPDATED", "framework_updated": {"framework": shapes_v1.framework_v1(new, f)}})
    for framework_id, f in frameworks_before.items():
        if framework_id not in now_ids:
            info = shapes_v1.framework_v1(old, f)["framework_info"]
            removed.append({"type": "FRAMEWORK_REMOVED", "framework_removed": {"framework_info": info}})
    agents_before = {a.agent_id for a in old.agents}
    agents_now = {a.agent_id for a in new.agents}
    for a in new.agents:
        if a.agent_id not in agents_before:
            added.append({"type": "AGENT_ADDED", "agent_added": {"agent": shapes_v1.agent_v1(new, a)}})
    for agent_id in agents_before - agents_now:
        removed.append({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": shapes_v1.id_json(agent_id)}})
    before = {(t.framework_id, t.task_id): t for t in old.all_tasks()}
    for t in new.all_tasks():
        was = before.get((t.framework_id, t.task_id))
        if was is None:
            tasks.append({"type": "TASK_ADDED", "task_added": {"task": shapes_v1.task_v1(t)}})
        elif was is not t and (was.state != t.state or was.statuses != t.statuses):
            update: dict[str, Any] = {"framework_id": shapes_v1.id_json(t.framework_id), "state": t.state.value,
                                      "agent_id": shapes_v1.id_json(t.agent_id)}
            if t.statuses:
                update["status"] = shapes_v1.status_v1(t.statuses[-1])
            tasks.append({"type": "TASK_UPDATED", "task_updated": update})
    return added + tasks + removed


def subscribe(request: Request) -> Response:
    global _subscribers
    source = request.app.state.source
    if not source.leading:
        return redirect_to_leader(request, source)
    with _lock:
        if _subscribers >= MAX_SUBSCRIBERS:
            return error(503, f"too many subscribers (at most {MAX_SUBSCRIBERS})")
        _subscribers += 1

    async def stream() -> AsyncIterator[bytes]:
        global _subscribers
        try:
            snap = await run_in_threadpool(lambda: visible(request, source.snapshot()))
            yield record({"type": "SUBSCRIBED", "subscribed": {"get_state": shapes_v1.get_state(snap),
                                                              "heartbeat_interval_seconds": HEARTBEAT_SECONDS}})
            yield record({"type": "HEARTBEAT"})
            quiet = 0.0
            while source.leading:
                await asyncio.sleep(POLL_SECONDS)
                quiet += POLL_SECONDS
                fresh = await run_in_threadpool(lambda: visible(request, source.snapshot()))
                if fresh is not None and fresh is not snap:
                    for event in events_between(snap, fresh):
                        yield record(event)
                    snap = fresh
                if quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield record({"type": "HEARTBEAT"})
        finally:
            with _lock:
                _subscribers -= 1

    return StreamingResponse(stream(), media_type="application/recordio",
                             headers={"Message-Content-Type": "application/json"})
