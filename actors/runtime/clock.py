"""Clocks with timers: the real one, and a virtual one that tests advance by hand.

>>> clock = VirtualClock(start=100.0)
>>> fired = []
>>> handle = clock.call_later(5, lambda: fired.append(clock.now()))
>>> clock.advance(4.9); fired
[]
>>> clock.advance(0.1); fired
[105.0]
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, Protocol

log = logging.getLogger(__name__)


class TimerHandle:
    """A pending callback; `cancel()` stops it if it has not run yet."""

    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _cancelled  # let go of what the callback holds (it never runs now)


def _cancelled() -> None:
    pass


class Clock(Protocol):
    def now(self) -> float: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle: ...

    def close(self) -> None: ...


class _TimerHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()

    def push(self, handle: TimerHandle) -> None:
        heapq.heappush(self._heap, (handle.when, next(self._seq), handle))

    def next_when(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[TimerHandle]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            handle = heapq.heappop(self._heap)[2]
            if not handle.cancelled:
                due.append(handle)
        return due


def _run(handle: TimerHandle) -> None:
    try:
        handle.callback()
    except Exception:  # a timer must never kill the clock
        log.exception("timer callback failed")


class RealClock:
    """Wall-clock time; timers run on one daemon thread."""

    def __init__(self) -> None:
        self._timers = _TimerHeap()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None  # when the timer thread looks next (None: when told)

    def now(self) -> float:
        return time.time()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        handle = TimerHandle(time.time() + max(seconds, 0.0), callback)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="mesobus-timers", daemon=True)
                self._thread.start()
            self._timers.push(handle)
            # Only a timer due before the thread looks next changes how long it sleeps.
            # (Compared with when it looks, not with the earliest live timer: a timer
            # cancelled meanwhile, like an answered ask's, must not cost a wake-up.)
            if self._wake_at is None or handle.when < self._wake_at:
                self._wake_at = handle.when
                self._cond.notify()
        return handle

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                when = self._wake_at = self._timers.next_when()
                wait = None if when is None else max(when - time.time(), 0.0)
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                due = self._timers.pop_due(time.time())
            for handle in due:
                _run(handle)


class VirtualClock:
    """Time that moves only when a test calls `advance`; due timers run in order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers = _TimerHeap()
        self._lock = threading.RLock()

    def now(self) -> float:
        return self._now

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        handle = TimerHandle(self._now + max(seconds, 0.0), callback)
        with self._lock:
            self._timers.push(handle)
        return handle

    def advance(self, seconds: float) -> None:
        """Move time forward, running each due timer at its own time."""
        target = self._now + seconds
        while True:
            with self._lock:
                when = self._timers.next_when()
                if when is None or when > target:
                    break
                self._now = max(self._now, when)
                due = self._timers.pop_due(self._now)
            for handle in due:
                _run(handle)
        self._now = target

    def set(self, now: float) -> None:
        """Jump to an absolute time (replay uses the recorded handling times)."""
        self.advance(max(now - self._now, 0.0))
        self._now = now

    def close(self) -> None:
        pass
