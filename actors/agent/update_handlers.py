"""The agent's status update path: executor -> status update manager -> master, and the
acknowledgements back (master -> agent -> executor). Part of the `Agent` actor."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from actors.agent.state import ExecutorPhase
from actors.agent.status_updates import Added, StreamKey
from actors.runtime import on
from messages import (
    RetryStatusUpdate,
    StatusReason,
    StatusSource,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskState,
    TaskStatus,
)
from messages.addresses import executor_address
from messages.ids import id_problem

if TYPE_CHECKING:
    from actors.agent.actor import Agent

log = logging.getLogger(__name__)


class UpdateHandlers:
    """Mixed into `Agent`; uses its book, status update manager and checkpoint."""

    @on(StatusUpdate)
    def _on_status_update(self: "Agent", msg: StatusUpdate) -> None:
        problem = self._update_problem(msg)
        if problem:
            log.warning("%s: dropping a status update: %s", self.address, problem)
            self.counters["status_updates_invalid"] += 1
            return
        status = replace(msg.status, agent_id=self.agent_id, executor_id=msg.executor_id, uuid=msg.uuid)
        self.add_update(replace(msg, agent_id=self.agent_id, status=status))

    def _update_problem(self: "Agent", msg: StatusUpdate) -> str | None:
        task_id = msg.status.task_id
        problem = id_problem("task id", task_id) or (None if msg.uuid else "the update has no uuid")
        if problem:
            return problem
        sender = self.envelope.sender if self.envelope else ""
        if sender != executor_address(self.agent_id, msg.framework_id, msg.executor_id):
            return f"update for {task_id} claims executor {msg.executor_id} but came from {sender}"
        executor = self.book.executors.get((msg.framework_id, msg.executor_id))
        if executor is None:
            return f"update for {task_id} from unknown executor {msg.executor_id} of {msg.framework_id}"
        task = self.book.tasks.get((msg.framework_id, task_id))
        if task is not None and task.executor_id != msg.executor_id:
            return f"task {task_id} does not belong to executor {msg.executor_id}"
        return None

    def add_update(self: "Agent", update: StatusUpdate) -> None:
        """Put an update in its task's stream; send it if it is the head. The task is
        written at the next commit, before anything sent from here on leaves the agent."""
        key = (update.framework_id, update.status.task_id)
        added = self.updates.add(update)
        if added in (Added.ACKNOWLEDGED, Added.REJECTED):
            if added is Added.REJECTED:
                log.warning("%s: %s already has a terminal update; dropping %s", self.address, key[1], update.status.state)
            self._ack_executor(update)  # it need not be resent
            return
        if added is Added.DUPLICATE:
            return
        task = self.book.tasks.get(key)
        if task is not None:
            task.state = update.status.state
            self.checkpoint_task(task)
        if added is Added.FORWARD:
            self._forward(key)

    def agent_update(
        self: "Agent",
        framework_id: str,
        task_id: str,
        state: TaskState,
        reason: StatusReason,
        message: str,
        *,
        executor_id: str = "",
        source: StatusSource = StatusSource.SOURCE_AGENT,
    ) -> None:
        """An update the agent makes itself (invalid task, executor gone, killed in queue)."""
        uuid = self.new_id()
        now = self.now()
        status = TaskStatus(
            task_id, state, message=message, source=source, reason=reason,
            agent_id=self.agent_id, executor_id=executor_id, timestamp=now, uuid=uuid,
        )
        self.add_update(StatusUpdate(framework_id, executor_id, self.agent_id, status, now, uuid))

    def _forward(self: "Agent", key: StreamKey) -> None:
        """Send the stream's head to the master and arm its resend (only while registered;
        a (re-)registration resends every head)."""
        head = self.updates.next_to_send(*key)
        self.cancel(self._update_timers.pop(key, ""))
        if head is None or not self.registered:
            return
        self.send(self.config.master, head)
        delay = self.updates.retry_delay(key[0], key[1], head.uuid)
        if delay is not None:
            self._update_timers[key] = self.delay(delay, RetryStatusUpdate(key[0], key[1], head.uuid))

    def resend_all_updates(self: "Agent") -> None:
        for head in list(self.updates.heads()):
            self._forward((head.framework_id, head.status.task_id))

    @on(RetryStatusUpdate)
    def _on_retry_status_update(self: "Agent", msg: RetryStatusUpdate) -> None:
        key = (msg.framework_id, msg.task_id)
        self._update_timers.pop(key, None)
        head = self.updates.next_to_send(*key)
        if head is None or head.uuid != msg.uuid or not self.registered:
            return
        self.counters["status_update_retries"] += 1
        self.send(self.config.master, head)
        delay = self.updates.retry_delay(msg.framework_id, msg.task_id, head.uuid)
        if delay is not None:
            self._update_timers[key] = self.delay(delay, RetryStatusUpdate(*key, head.uuid))

    @on(StatusUpdateAcknowledgement)
    def _on_acknowledgement(self: "Agent", msg: StatusUpdateAcknowledgement) -> None:
        if msg.agent_id and msg.agent_id != self.agent_id:
            log.warning("%s: acknowledgement for agent %s ignored", self.address, msg.agent_id)
            return
        key = (msg.framework_id, msg.task_id)
        acked, following = self.updates.acknowledge(msg.framework_id, msg.task_id, msg.uuid)
        if acked is None:
            self.counters["acknowledgements_stale"] += 1
            return
        self.cancel(self._update_timers.pop(key, ""))
        self._ack_executor(acked)
        task = self.book.tasks.get(key)
        stream = self.updates.stream(*key)
        if stream is None:  # the terminal update was acknowledged: the task is done here
            self.uncheckpoint_task(key)
            if task is not None:
                self.book.finish(task)
                self.task_done(task)
        # Otherwise nothing is written: losing an acknowledgement in a crash only makes the
        # agent resend an update the framework has seen, which it acknowledges again.
        if following is not None:
            self._forward(key)

    def _ack_executor(self: "Agent", update: StatusUpdate) -> None:
        """Tell the executor that sent `update` that it need not keep it any more."""
        if update.status.source != StatusSource.SOURCE_EXECUTOR or not update.executor_id:
            return
        executor = self.book.executors.get((update.framework_id, update.executor_id))
        if executor is None or executor.phase != ExecutorPhase.REGISTERED:
            return  # it resends on re-registration and is acknowledged then
        self.send(
            executor.address,
            StatusUpdateAcknowledgement(self.agent_id, update.framework_id, update.status.task_id, update.uuid),
        )
