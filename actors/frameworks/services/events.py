"""Marathon's event bus: every event goes to each `/v2/events` stream attached (bounded
queues: a reader too slow for 10,000 events is detached), and counts for /metrics.

>>> bus = EventBus()
>>> bus.publish({"eventType": "api_post_event"})
>>> bus.counts
{'api_post_event': 1}
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

MAX_QUEUED = 10_000


class Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop, types: set[str] | None) -> None:
        self.loop, self.types = loop, types
        self.queue: asyncio.Queue = asyncio.Queue(MAX_QUEUED)
        self.dropped = False


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def subscribe(self, types: set[str] | None) -> Subscriber:
        sub = Subscriber(asyncio.get_running_loop(), types)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def publish(self, event: dict[str, Any]) -> None:
        kind = event.get("eventType", "")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if sub.types is None or kind in sub.types:
                try:
                    sub.loop.call_soon_threadsafe(_offer, sub, event)
                except RuntimeError:  # its loop closed
                    self.unsubscribe(sub)

    @property
    def attached(self) -> int:
        with self._lock:
            return len(self._subscribers)


def _offer(sub: Subscriber, event: dict[str, Any]) -> None:
    try:
        sub.queue.put_nowait(event)
    except asyncio.QueueFull:
        sub.dropped = True
