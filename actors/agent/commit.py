"""Group commit: the agent writes each changed task's checkpoint once per batch of
messages, and lets nothing out that depends on a write before the write is done.

Handlers do not write task files themselves: `checkpoint_task(task)` marks the task
dirty. From then on, until the next `commit()`, everything the agent sends to other
actors, and its acknowledgements of the messages it handled (to the broker), wait in
`OutputGate`, in order. `commit()` writes every dirty task once (tmp file, fsync, rename),
then lets them go. The agent commits when its mailbox is drained, after
`commit_every` handled messages at the latest, before it stops, and after each message
handled outside its mailbox loop (replay, `leave()`).

So a status update is on disk before it is forwarded to the master, hence before the
master's acknowledgement can come back and be passed on to the executor: an agent restart
never loses an update its executor believes delivered (Mesos' guarantee; Mesos also
checkpoints before forwarding). A task is on disk before its RunTask reaches the executor.
Holding the broker acknowledgements too means an agent killed before a commit gets those
messages again from the broker when it restarts.

An acknowledgement from the master only advances a stream: that is not written at all
(the next write of the task, or its removal when its terminal update is acknowledged,
carries it). After a crash the agent resends an update the framework already saw, which
the scheduler acknowledges again (duplicates are recognised by uuid).

Replay: commit time never changes what the agent sends. Envelopes are made (ids, causes)
in the handler, in handler order; only their publication waits. Replay dispatches each
input outside the mailbox loop, so it commits right after it and sees the same outputs.

A failed write (disk full, I/O error) keeps everything held and is retried after 1 s,
doubling up to 30 s: an agent that cannot checkpoint falls silent (the master will count
it unreachable), as Mesos' agent aborts. A task whose file cannot be named (a very long
id) is not checkpointed, and says so in the log.

>>> from actors.runtime import MemoryTransport
>>> from messages import PongAgent
>>> inner = MemoryTransport()
>>> gate = OutputGate(inner, "agent.a1")
>>> gate.holding = True
>>> gate.publish(Envelope(id="m1", sender="agent.a1", target="master", body=PongAgent("a1")))
>>> inner.published, gate.held
(0, 1)
>>> gate.release(); inner.published, gate.held
(1, 0)
"""

from __future__ import annotations

import errno
import logging
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, ContextManager, Sequence

from actors.agent.state import TaskKey, TaskRecord
from actors.runtime import Transport
from actors.runtime.transport import Delivery, OnDelivery
from messages import Envelope

if TYPE_CHECKING:
    from actors.agent.actor import Agent

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # seconds between attempts after a failed commit
# In the agent's inbox (pykka messages: no id, not journaled): commit now; retry a failed commit.
_COMMIT, _RETRY = object(), object()
_UNNAMEABLE = (errno.ENAMETOOLONG,)  # per-file errors that no retry will cure


class OutputGate(Transport):
    """The agent's transport: while `holding`, messages to other actors and acks of
    handled deliveries wait, in order, until `release()`. Messages to the agent itself
    (timers, published from the clock's thread) always go at once."""

    def __init__(self, inner: Transport, address: str) -> None:
        self.inner = inner
        self.address = address
        self.clock = inner.clock
        self.holding = False
        self._out: list[Envelope] = []
        self._acks: list[Delivery] = []
        self._timers_done = 0  # handled timers, settled with the acks

    @property
    def user(self) -> str:  # type: ignore[override]
        """The principal the agent publishes as: the broker transport's."""
        return self.inner.user

    @property
    def held(self) -> int:
        return len(self._out) + len(self._acks)

    def publish(self, envelope: Envelope) -> None:
        if envelope.target == self.address or not self.holding:
            self.inner.publish(envelope)
        else:
            self._out.append(envelope)

    def ack(self, delivery: Delivery) -> None:
        if self.holding:
            self._acks.append(delivery)
        else:
            self.inner.ack(delivery)

    def release(self) -> None:
        """Publish what waits (together: one batch), then ack what was handled; stop
        holding. If publishing fails (a broker outage), what is left keeps waiting, in order."""
        out, acks = self._out, self._acks
        sent = 0
        try:
            with self.batch():
                for envelope in out:
                    self.inner.publish(envelope)
                    sent += 1
        finally:
            del out[:sent]
        self._acks = []
        for delivery in acks:
            self.inner.ack(delivery)
        timers, self._timers_done = self._timers_done, 0
        for _ in range(timers):
            self.inner.timer_done()
        self.holding = False

    # --- the rest goes straight through -------------------------------------------------

    def subscribe(
        self, address: str, on_delivery: OnDelivery, *, durable: bool = True, groups: Sequence[str] = (),
    ) -> None:
        self.inner.subscribe(address, on_delivery, durable=durable, groups=groups)

    def unsubscribe(self, address: str) -> None:
        self.inner.unsubscribe(address)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self.inner.dead_letter(delivery, reason)

    def record(self, envelope: Envelope) -> None:
        self.inner.record(envelope)

    @property
    def journaling(self) -> bool:
        return self.inner.journaling

    @property
    def user(self) -> str:  # type: ignore[override]
        return self.inner.user

    def timer_pending(self) -> None:
        self.inner.timer_pending()

    def timer_done(self) -> None:  # settled like an ack: after the handler's output
        if self.holding:
            self._timers_done += 1
        else:
            self.inner.timer_done()

    def batch(self) -> ContextManager[None]:
        batch = getattr(self.inner, "batch", None)  # (transports that cannot batch lack it)
        return batch() if batch is not None else nullcontext()

    def flush(self, timeout: float = 10.0) -> None:
        self.inner.flush(timeout)

    def ask(self, envelope: Envelope, timeout: float | None = None) -> Any:
        return self.inner.ask(envelope, timeout)

    def close(self) -> None:
        self.inner.close()


class GroupCommit:
    """Mixed into `Agent` (before `Actor`): dirty tasks, the commit, and when it runs."""

    commit_every: ClassVar[int] = 128  # handled messages between commits under load

    def _init_group_commit(self: "Agent") -> None:
        self.transport = OutputGate(self.transport, self.address)
        self._dirty: dict[TaskKey, bool] = {}  # True: write the task, False: remove its file
        self._in_mailbox_loop = False
        self._since_commit = 0
        self._commit_asked = False  # a _COMMIT is in the inbox
        self._retry_delay = 0.0  # > 0 after a failed commit: only retries commit then
        self._retry_scheduled = False  # a _RETRY will come

    # --- what handlers call ---------------------------------------------------------------

    def checkpoint_task(self: "Agent", task: TaskRecord) -> None:
        """Write the task (with its stream) at the next commit; hold outputs until then."""
        if self.checkpoint.keeps_state:
            self._dirty[task.key] = True
            self.transport.holding = True

    def uncheckpoint_task(self: "Agent", key: TaskKey) -> None:
        """Remove the task's file at the next commit (no fsync). Outputs wait for it too,
        only so that a handled message is acked once all its effects are done."""
        if self.checkpoint.keeps_state:
            self._dirty[key] = False
            self.transport.holding = True

    def uncheckpoint_framework(self: "Agent", framework_id: str) -> None:
        for key in [k for k in self._dirty if k[0] == framework_id]:
            del self._dirty[key]
        self.checkpoint.remove_framework(framework_id)

    def wipe_checkpoint(self: "Agent") -> None:
        self._dirty.clear()
        self.checkpoint.wipe()

    # --- the commit -----------------------------------------------------------------------

    def commit(self: "Agent") -> bool:
        """Write the dirty tasks, then release what waited for them. Never raises: on a
        failure everything stays held, a retry is scheduled, and it returns False."""
        self._since_commit = 0
        try:
            self._write_dirty()
        except OSError as err:
            log.error("%s: cannot write a task checkpoint (%s); holding %d messages until it can",
                      self.address, err, self.transport.held)
            self._commit_failed()
            return False
        try:
            self.transport.release()
        except Exception as err:  # the transport gave up (a broker outage): try again later
            log.error("%s: cannot send %d held messages: %s", self.address, self.transport.held, err)
            self.transport.holding = True
            self._commit_failed()
            return False
        self._retry_delay = 0.0
        return True

    def _write_dirty(self: "Agent") -> None:
        dirty = self._dirty
        if not dirty:
            return
        self.counters["commits"] += 1
        saves = [(key, self.book.tasks.get(key)) for key, save in dirty.items() if save]
        saves = [(key, task) for key, task in saves if task is not None]
        batch = [(task, self.updates.stream(*key)) for key, task in saves]
        save_tasks = getattr(self.checkpoint, "save_tasks", None)  # (written together where it can)
        outcomes = save_tasks(batch) if save_tasks is not None else [self._save_one(*item) for item in batch]
        failed: dict[TaskKey, OSError] = {}
        for (key, _task), err in zip(saves, outcomes):
            if err is None:
                self.counters["task_checkpoints"] += 1
            elif isinstance(err, OSError) and err.errno not in _UNNAMEABLE:
                failed[key] = err  # stays dirty: retried with the rest
            elif isinstance(err, OSError):
                self.counters["checkpoint_failures"] += 1
                log.error("%s: task %s of %s cannot be checkpointed: %s", self.address, key[1], key[0], err)
            else:  # a bug, not the disk: retrying would not help
                self.counters["checkpoint_failures"] += 1
                log.error("%s: task %s of %s cannot be checkpointed", self.address, key[1], key[0], exc_info=err)
        for key in list(dirty):
            if key in failed:
                continue
            if not dirty[key]:
                try:
                    self.checkpoint.remove_task(*key)
                except OSError as err:
                    failed[key] = err
                    continue
            del dirty[key]
        if failed:
            raise next(iter(failed.values()))

    def _save_one(self: "Agent", task: TaskRecord, stream: Any) -> BaseException | None:
        try:
            self.checkpoint.save_task(task, stream)
        except Exception as err:
            return err
        return None

    def _commit_failed(self: "Agent") -> None:
        self.counters["commit_failures"] += 1
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX) if self._retry_delay else RETRY_FIRST
        if not self._retry_scheduled:
            self._retry_scheduled = True
            self.context.clock.call_later(self._retry_delay, lambda: self._tell(_RETRY))

    def _tell(self: "Agent", message: object) -> None:
        try:
            self.actor_ref.tell(message)
        except Exception:  # stopped meanwhile (on_stop committed)
            pass

    def _uncommitted(self: "Agent") -> bool:
        return bool(self._dirty) or self.transport.holding

    # --- when: hooks into the runtime's actor -----------------------------------------------

    def on_receive(self: "Agent", message: Any) -> Any:
        if message is _COMMIT or message is _RETRY:
            if message is _COMMIT:
                self._commit_asked = False
            else:
                self._retry_scheduled = False
            if self._uncommitted() and (message is _RETRY or not self._retry_delay):
                self.commit()
            return None
        self._in_mailbox_loop = True
        try:
            return super().on_receive(message)  # type: ignore[misc]
        finally:
            self._in_mailbox_loop = False
            if self._uncommitted() and not self._retry_delay:
                if self.actor_inbox.empty():
                    self.commit()
                elif not self._commit_asked:  # proxy calls do not come through here: make sure one follows
                    self._commit_asked = True
                    self._tell(_COMMIT)

    def dispatch(self: "Agent", envelope: Envelope, user_id: str = "") -> str | None:
        reason = super().dispatch(envelope, user_id)  # type: ignore[misc]
        self._since_commit += 1
        if (not self._in_mailbox_loop or self._since_commit >= self.commit_every) and not self._retry_delay:
            if self._uncommitted():
                self.commit()
        return reason

    def on_stop(self: "Agent") -> None:
        if self._uncommitted():
            self.commit()  # a last attempt, even while failing
        super().on_stop()  # type: ignore[misc]
