"""The status update manager: reliable, ordered status updates per task, as in Mesos.

Pure logic; the agent actor sends, arms the retry timers and checkpoints. Each task has a
stream: updates wait in order, only the head is in flight to the master, and the head is
resent (10 s, doubling up to 10 min) until the framework acknowledges it by uuid. An update
seen before (same uuid) is a duplicate and is dropped.

>>> from messages import StatusUpdate, TaskStatus, TaskState
>>> def upd(uuid, state):
...     return StatusUpdate("f1", "e1", "a1", TaskStatus("t1", state, uuid=uuid), 0.0, uuid)
>>> sum_ = StatusUpdateManager()
>>> sum_.add(upd("u1", TaskState.TASK_RUNNING)), sum_.add(upd("u2", TaskState.TASK_FINISHED))
(<Added.FORWARD: 'forward'>, <Added.QUEUED: 'queued'>)
>>> sum_.add(upd("u1", TaskState.TASK_RUNNING))
<Added.DUPLICATE: 'duplicate'>
>>> sum_.next_to_send("f1", "t1").latest_state        # the master learns the newest state
'TASK_FINISHED'
>>> acked, nxt = sum_.acknowledge("f1", "t1", "u1"); nxt.uuid
'u2'
>>> sum_.retry_delay("f1", "t1", "u2"), sum_.retry_delay("f1", "t1", "u2")
(10.0, 20.0)
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Iterator

from messages import StatusUpdate, TaskState

StreamKey = tuple[str, str]  # (framework_id, task_id)
CLOSED_KEPT = 10_000  # finished streams remembered to drop their late duplicates


class Added(str, enum.Enum):
    FORWARD = "forward"  # became the head: send it to the master now
    QUEUED = "queued"  # waits behind the head
    DUPLICATE = "duplicate"  # seen before and still unacknowledged: drop
    ACKNOWLEDGED = "acknowledged"  # seen before and already acknowledged: ack the executor again
    REJECTED = "rejected"  # the stream already has a terminal update: drop


@dataclass
class Stream:
    """One task's updates: `pending[0]` is the head, in flight to the master."""

    framework_id: str
    task_id: str
    pending: list[StatusUpdate] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)  # uuids, in order
    backoff: float = 0.0  # the delay before the head's next resend
    terminal_seen: bool = False

    @property
    def key(self) -> StreamKey:
        return (self.framework_id, self.task_id)

    @property
    def finished(self) -> bool:
        """A terminal update was received and everything has been acknowledged."""
        return self.terminal_seen and not self.pending

    def knows(self, uuid: str) -> bool:
        return uuid in self.acked or any(u.uuid == uuid for u in self.pending)


class StatusUpdateManager:
    """Streams of status updates, keyed by (framework_id, task_id)."""

    def __init__(self, backoff: float = 10.0, backoff_max: float = 600.0) -> None:
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.streams: dict[StreamKey, Stream] = {}
        self._closed: OrderedDict[StreamKey, frozenset[str]] = OrderedDict()

    # --- input ------------------------------------------------------------------------

    def add(self, update: StatusUpdate) -> Added:
        """Take an update (from an executor or the agent itself)."""
        key = (update.framework_id, update.status.task_id)
        closed = self._closed.get(key)
        if closed is not None:
            return Added.ACKNOWLEDGED if update.uuid in closed else Added.REJECTED
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = Stream(*key)
        if update.uuid in stream.acked:
            return Added.ACKNOWLEDGED
        if stream.knows(update.uuid):
            return Added.DUPLICATE
        if stream.terminal_seen:
            return Added.REJECTED
        stream.pending.append(update)
        stream.terminal_seen = update.status.state.is_terminal
        if len(stream.pending) == 1:
            stream.backoff = self.backoff
            return Added.FORWARD
        return Added.QUEUED

    def acknowledge(
        self, framework_id: str, task_id: str, uuid: str
    ) -> tuple[StatusUpdate | None, StatusUpdate | None]:
        """The framework acknowledged `uuid`: returns (the acknowledged update, the next
        head to send); (None, None) when `uuid` is not the head (stale or unknown ack)."""
        stream = self.streams.get((framework_id, task_id))
        if stream is None or not stream.pending or stream.pending[0].uuid != uuid:
            return None, None
        acked = stream.pending.pop(0)
        stream.acked.append(uuid)
        if stream.finished:
            self._close(stream)
            return acked, None
        if stream.pending:
            stream.backoff = self.backoff
            return acked, self.next_to_send(framework_id, task_id)
        return acked, None

    def retry_delay(self, framework_id: str, task_id: str, uuid: str) -> float | None:
        """When `uuid` is still the head: the delay before resending it (doubling each
        call up to the cap); None when it has been acknowledged meanwhile."""
        stream = self.streams.get((framework_id, task_id))
        if stream is None or not stream.pending or stream.pending[0].uuid != uuid:
            return None
        delay = stream.backoff
        stream.backoff = min(stream.backoff * 2, self.backoff_max)
        return delay

    # --- queries ----------------------------------------------------------------------

    def next_to_send(self, framework_id: str, task_id: str) -> StatusUpdate | None:
        """The head, with `latest_state` set to the newest state in the stream."""
        stream = self.streams.get((framework_id, task_id))
        if stream is None or not stream.pending:
            return None
        newest = stream.pending[-1].status.state
        return replace(stream.pending[0], latest_state=newest.value)

    def heads(self) -> Iterator[StatusUpdate]:
        """Every stream's head (to resend after a (re-)registration)."""
        for framework_id, task_id in list(self.streams):
            head = self.next_to_send(framework_id, task_id)
            if head is not None:
                yield head

    def stream(self, framework_id: str, task_id: str) -> Stream | None:
        return self.streams.get((framework_id, task_id))

    def unacknowledged(self, framework_id: str, task_id: str) -> int:
        stream = self.streams.get((framework_id, task_id))
        return len(stream.pending) if stream else 0

    def latest_state(self, framework_id: str, task_id: str) -> TaskState | None:
        stream = self.streams.get((framework_id, task_id))
        if stream is None or not stream.pending:
            return None
        return stream.pending[-1].status.state

    # --- lifecycle --------------------------------------------------------------------

    def restore(self, stream: Stream) -> None:
        """Put back a checkpointed stream (agent recovery)."""
        stream.backoff = self.backoff
        if stream.finished:
            self._close(stream)
        else:
            self.streams[stream.key] = stream

    def forget_framework(self, framework_id: str) -> list[Stream]:
        """Drop every stream of a removed framework (no acks will come); returns them."""
        gone = [s for key, s in self.streams.items() if key[0] == framework_id]
        for stream in gone:
            del self.streams[stream.key]
        return gone

    def _close(self, stream: Stream) -> None:
        self.streams.pop(stream.key, None)
        self._closed[stream.key] = frozenset(stream.acked)
        while len(self._closed) > CLOSED_KEPT:
            self._closed.popitem(last=False)
