"""The v1 `SUBSCRIBE` call: a RecordIO stream ("<length>\\n<JSON>" per event) of
`SUBSCRIBED` (the whole state), then `TASK_ADDED`, `TASK_UPDATED`, `AGENT_ADDED`,
`AGENT_REMOVED`, `FRAMEWORK_ADDED`, `FRAMEWORK_UPDATED`, `FRAMEWORK_REMOVED`, and a
`HEARTBEAT` every `HEARTBEAT_SECONDS`.

Task events come from the master's task feed (actors/master/feed.py): every transition,
in order, however fast. Agents and frameworks are compared between successive pictures
of the master (snapshot.py: about a second apart while it changes): a framework or agent
is announced before the first task event that names it (a fresh picture is asked for
then), and its removal after its tasks' last updates. A stream that falls more than the feed's capacity behind is ended (the
client subscribes again and gets the whole state), never fed a gap.

>>> record({"type": "HEARTBEAT"})
b'20\\n{"type":"HEARTBEAT"}'
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, AsyncIterator, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from actors.master.feed import Event
from actors.master.snapshot import Snapshot, TaskView
from actors.operator import shapes_v1
from actors.operator.authorize import task_filter, visible
from actors.operator.respond import error, redirect_to_leader

POLL_SECONDS = 0.25
HEARTBEAT_SECONDS = 15.0
MAX_SUBSCRIBERS = 64

_subscribers = 0
_lock = threading.Lock()


def record(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":")).encode()
    return str(len(data)).encode() + b"\n" + data


def membership_events(old: Snapshot, new: Snapshot) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Frameworks and agents that came, changed or went from `old` to `new`: (added or
    updated, removed)."""
    added: list[dict[str, Any]] = []
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
    return added, removed


def task_event(kind: str, t: TaskView) -> dict[str, Any]:
    if kind == "added":
        return {"type": "TASK_ADDED", "task_added": {"task": shapes_v1.task_v1(t)}}
    update: dict[str, Any] = {"framework_id": shapes_v1.id_json(t.framework_id), "state": t.state.value,
                              "agent_id": shapes_v1.id_json(t.agent_id)}
    if t.statuses:
        update["status"] = shapes_v1.status_v1(t.statuses[-1])
    return {"type": "TASK_UPDATED", "task_updated": update}


def compared_task_events(old: Snapshot, new: Snapshot) -> list[dict[str, Any]]:
    """Without a feed: tasks compared between two pictures (a task that changed twice in
    between is reported once, in its latest state)."""
    before = {(t.framework_id, t.task_id): t for t in old.all_tasks()}
    out = []
    for t in new.all_tasks():
        was = before.get((t.framework_id, t.task_id))
        if was is None:
            out.append(task_event("added", t))
        elif was is not t and (was.state != t.state or was.statuses != t.statuses):
            out.append(task_event("updated", t))
    return out


def _unannounced(snap: Snapshot, changes: Iterable[Event]) -> bool:
    """Whether a task change names a framework or an agent `snap` does not show yet."""
    frameworks = {f.framework_id for f in snap.frameworks}
    agents = {a.agent_id for a in snap.agents}
    return any(t.framework_id not in frameworks or t.agent_id not in agents for _, _, t in changes)


def subscribe(request: Request) -> Response:
    global _subscribers
    source = request.app.state.source
    if not source.leading:
        return redirect_to_leader(request, source)
    with _lock:
        if _subscribers >= MAX_SUBSCRIBERS:
            return error(503, f"too many subscribers (at most {MAX_SUBSCRIBERS})")
    feed = source.feed

    async def stream() -> AsyncIterator[bytes]:
        # Counted from here, where `finally` is sure to run: a response never sent (the
        # client left before its first byte) never starts this generator, and a slot taken
        # in subscribe() would never be given back (after MAX_SUBSCRIBERS such, only 503s).
        global _subscribers
        with _lock:
            _subscribers += 1
        if feed is not None:
            feed.listen()  # before the first picture, so that nothing falls between the two
        try:
            raw = await run_in_threadpool(source.fresh_snapshot)
            if raw is None:
                return
            snap = visible(request, raw)
            yield record({"type": "SUBSCRIBED", "subscribed": {"get_state": shapes_v1.get_state(snap),
                                                              "heartbeat_interval_seconds": HEARTBEAT_SECONDS}})
            yield record({"type": "HEARTBEAT"})
            seq, quiet = snap.feed_seq, 0.0
            while source.leading:
                await asyncio.sleep(POLL_SECONDS)
                quiet += POLL_SECONDS
                changes = feed.since(seq) if feed is not None else []
                if changes is None:
                    return  # fell behind the feed: the client subscribes again
                raw = await run_in_threadpool(source.snapshot)
                if raw is not None and changes and _unannounced(raw, changes):
                    raw = await run_in_threadpool(source.fresh_snapshot)
                if raw is None:
                    continue
                fresh = visible(request, raw)
                may_view = task_filter(request, raw)
                added, removed = membership_events(snap, fresh)
                tasks = ([task_event(kind, t) for _, kind, t in changes if may_view(t)] if feed is not None
                         else compared_task_events(snap, fresh))
                for event in added + tasks + removed:
                    yield record(event)
                snap, seq = fresh, (changes[-1][0] if changes else seq)
                if quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield record({"type": "HEARTBEAT"})
        finally:
            if feed is not None:
                feed.unlisten()
            with _lock:
                _subscribers -= 1

    return StreamingResponse(stream(), media_type="application/recordio",
                             headers={"Message-Content-Type": "application/json"})
