"""Every change of every task, kept for the operator API's `SUBSCRIBE` streams.

Pictures of the master (snapshot.py) are rebuilt at most about once a second, so a task
that goes STAGING -> STARTING -> RUNNING -> FINISHED between two of them would show only
its last state. Mesos' subscribers see each transition: the task records (tasks.py) note
every change here, on the master's thread, while at least one stream listens; readers
on other threads take what came after the sequence number they hold.

>>> from messages import Resources
>>> from actors.master.tasks import TaskRecord
>>> feed = TaskFeed(capacity=2)
>>> t = TaskRecord("f1", "t1", "web", "a1", "e", Resources.parse("cpus:1"), "*")
>>> feed.note("added", t)  # nobody listens: nothing is kept
>>> feed.listen(); feed.note("added", t); feed.note("updated", t)
>>> [(seq, kind, view.task_id) for seq, kind, view in feed.since(0)]
[(1, 'added', 't1'), (2, 'updated', 't1')]
>>> feed.note("updated", t); feed.since(0) is None  # the first one was pushed out
True
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from actors.master.snapshot import TaskView, task_view

if TYPE_CHECKING:
    from actors.master.tasks import TaskRecord

Event = tuple[int, str, TaskView]  # (sequence number, "added" | "updated", the task then)

CAPACITY = 20_000  # events kept: a stream further behind than this is ended, not fed a gap


class TaskFeed:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq = 0
        self._listeners = 0
        self._lock = threading.Lock()  # the master appends while readers copy

    # --- the readers' side (any thread) -----------------------------------------------

    def listen(self) -> None:
        """A stream starts: changes are kept from now on (ask for a picture after this)."""
        with self._lock:
            self._listeners += 1

    def unlisten(self) -> None:
        with self._lock:
            self._listeners = max(self._listeners - 1, 0)
            if not self._listeners:
                self._events.clear()

    def since(self, seq: int) -> list[Event] | None:
        """The events after `seq`, oldest first; None when some of them were dropped."""
        with self._lock:
            if self._events and self._events[0][0] > seq + 1:
                return None
            if not self._events and self._seq > seq:
                return None  # noted, then cleared while nobody listened
            return [e for e in self._events if e[0] > seq]

    # --- the master's side (its thread only) --------------------------------------------

    @property
    def seq(self) -> int:
        """The last event's number: a picture taken now shows the tasks as of it."""
        return self._seq

    def note(self, kind: str, record: "TaskRecord") -> None:
        if not self._listeners:  # the usual case: nothing to pay
            return
        view = task_view(record)
        with self._lock:
            self._seq += 1
            self._events.append((self._seq, kind, view))
