"""The agent's handling of what the master asks about tasks: RunTask, KillTask,
ShutdownFramework/ShutdownExecutor, and the framework <-> executor relay (messages, and
acknowledgements of task output the master relayed). Part of `Agent`."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from actors.agent.sandbox import task_sandbox
from actors.agent.state import ExecutorPhase, ExecutorRecord, TaskRecord
from actors.agent.validation import container_problem, run_task_problem
from actors.runtime import on
from messages import (
    ExecutorInfo,
    ExecutorShutdownTimeout,
    ExecutorToFramework,
    FrameworkInfo,
    FrameworkToExecutor,
    KillTask,
    RunTask,
    ShutdownExecutor,
    ShutdownFramework,
    StatusReason,
    StatusSource,
    TaskInfo,
    TaskOutputAck,
    TaskState,
)
from messages.ids import COMMAND_EXECUTOR_ID

if TYPE_CHECKING:
    from actors.agent.actor import Agent

log = logging.getLogger(__name__)

R = StatusReason


class TaskHandlers:
    """Mixed into `Agent`."""

    # --- tasks from the master --------------------------------------------------------

    @on(RunTask)
    def _on_run_task(self: "Agent", msg: RunTask) -> None:
        framework, info = msg.framework, msg.task
        fid, tid = framework.framework_id, info.task_id
        if self.book.known((fid, tid)):
            log.info("%s: RunTask for %s again; ignored", self.address, tid)
            return
        executor_info = self._executor_info(fid, info)
        task = TaskRecord(fid, executor_info.executor_id, info, role=_role(framework, info))
        self.book.tasks[task.key] = task
        problem = run_task_problem(msg, self.agent_id, self.agent_info.resources)
        if problem:
            self.agent_update(fid, tid, TaskState.TASK_ERROR, R.REASON_TASK_INVALID, problem)
            return
        problem = container_problem(info, self.config.hostname)
        if problem:  # as a Mesos agent whose containerizers all refuse the task
            self.agent_update(fid, tid, TaskState.TASK_FAILED, R.REASON_CONTAINER_LAUNCH_FAILED, problem)
            return
        if fid in self.frameworks_shutting_down:
            state = TaskState.TASK_DROPPED if framework.partition_aware else TaskState.TASK_LOST
            self.agent_update(fid, tid, state, R.REASON_FRAMEWORK_REMOVED, "the framework is being shut down here")
            return
        if self.book.frameworks.get(fid) != framework:
            self.book.frameworks[fid] = framework
            self.checkpoint.save_framework(framework)
        if self.launcher.simulates_tasks:
            self.checkpoint_task(task)
            for state in (TaskState.TASK_RUNNING, TaskState.TASK_FINISHED):
                self.agent_update(fid, tid, state, R.REASON_NONE, "noop mode", source=StatusSource.SOURCE_EXECUTOR)
            return
        executor = self.book.executors.get((fid, executor_info.executor_id))
        if executor is not None and executor.info.command != executor_info.command:
            problem = f"executor {executor_info.executor_id} already runs here with a different command"
            self.agent_update(fid, tid, TaskState.TASK_ERROR, R.REASON_TASK_INVALID, problem)
            return
        if executor is None and not msg.launch_executor:
            state = TaskState.TASK_DROPPED if framework.partition_aware else TaskState.TASK_LOST
            self.agent_update(fid, tid, state, R.REASON_EXECUTOR_TERMINATED, "its executor is not running")
            return
        if executor is None:
            executor = self._launch(fid, executor_info)  # a failure comes back as a message
        if executor_info.executor_id == COMMAND_EXECUTOR_ID:
            task.sandbox = task_sandbox(executor.sandbox, tid)
            if executor.handle is not None:  # else its launch failed: the task will fail
                self.sandboxes.create_task(executor.sandbox, tid)
        else:
            task.sandbox = executor.sandbox
        self.checkpoint_task(task)  # written before the RunTask leaves (it waits for the commit)
        self._deliver(executor, info)

    def _executor_info(self: "Agent", framework_id: str, info: TaskInfo) -> ExecutorInfo:
        if info.executor is not None:
            return replace(info.executor, framework_id=framework_id)
        return ExecutorInfo(
            executor_id=COMMAND_EXECUTOR_ID,
            command=self.command_executor,
            framework_id=framework_id,
            name="mesobus command executor",
        )

    def _deliver(self: "Agent", executor: ExecutorRecord, info: TaskInfo) -> None:
        """Send the task to a registered executor; otherwise it waits in the queue."""
        executor.idle_generation += 1
        if executor.phase == ExecutorPhase.REGISTERED:
            self.send(executor.address, RunTask(self.book.frameworks[executor.framework_id], info))
        else:
            executor.queued.append(info)

    @on(KillTask)
    def _on_kill_task(self: "Agent", msg: KillTask) -> None:
        key = (msg.framework_id, msg.task_id)
        task = self.book.tasks.get(key)
        if task is None:
            if key not in self.book.completed:
                state = self.lost_state(msg.framework_id)
                self.agent_update(*key, state, R.REASON_TASK_UNKNOWN, "the agent does not know this task")
            return
        if task.state.is_terminal:
            return
        task.kill_requested = True
        executor = self.book.executors.get((task.framework_id, task.executor_id))
        queued = executor is not None and any(i.task_id == task.task_id for i in executor.queued)
        if executor is None or queued:
            if executor is not None:
                executor.queued = [i for i in executor.queued if i.task_id != task.task_id]
                self._check_idle(executor)
            self.agent_update(
                *key, TaskState.TASK_KILLED, R.REASON_TASK_KILLED_DURING_LAUNCH, "killed before it was launched",
                executor_id=task.executor_id,
            )
        elif executor.phase == ExecutorPhase.REGISTERED:
            self.send(executor.address, msg)
        # RECONNECTING: forwarded when it re-registers; TERMINATING: it dies anyway.

    @on(ShutdownFramework)
    def _on_shutdown_framework(self: "Agent", msg: ShutdownFramework) -> None:
        log.info("%s: shutting down framework %s", self.address, msg.framework_id)
        self.frameworks_shutting_down.add(msg.framework_id)
        for executor in self.book.executors_of(msg.framework_id):
            self.shutdown_executor(executor, requested=True)
        self._maybe_remove_framework(msg.framework_id)

    @on(ShutdownExecutor)
    def _on_shutdown_executor(self: "Agent", msg: ShutdownExecutor) -> None:
        executor = self.book.executors.get((msg.framework_id, msg.executor_id))
        if executor is not None:
            self.shutdown_executor(executor, requested=True)

    def shutdown_executor(self: "Agent", executor: ExecutorRecord, *, requested: bool) -> None:
        """Ask it to stop (kill it if it cannot be asked); kill it if it is still there
        after the shutdown grace period."""
        executor.shutdown_requested |= requested
        for info in executor.queued:
            self.agent_update(
                executor.framework_id, info.task_id, TaskState.TASK_KILLED, R.REASON_TASK_KILLED_DURING_LAUNCH,
                "its executor was shut down before it was launched", executor_id=executor.executor_id,
            )
        executor.queued.clear()
        if executor.phase == ExecutorPhase.TERMINATING:
            return
        if executor.phase == ExecutorPhase.REGISTERED:
            self.send(executor.address, ShutdownExecutor(*executor.key))
        elif executor.handle is not None:
            self.launcher.kill(executor.handle)
        executor.phase = ExecutorPhase.TERMINATING
        self.cancel(executor.timer)
        executor.timer = self.delay(self.config.executor_shutdown_grace, ExecutorShutdownTimeout(*executor.key, executor.run_id))

    @on(ExecutorShutdownTimeout)
    def _on_shutdown_timeout(self: "Agent", msg: ExecutorShutdownTimeout) -> None:
        executor = self._current(msg.framework_id, msg.executor_id, msg.run_id)
        if executor is not None and executor.phase == ExecutorPhase.TERMINATING and executor.handle is not None:
            log.warning("%s: executor %s did not exit in time; killing it", self.address, executor.executor_id)
            self.launcher.kill(executor.handle)

    # --- framework <-> executor messages ----------------------------------------------

    @on(FrameworkToExecutor)
    def _on_framework_to_executor(self: "Agent", msg: FrameworkToExecutor) -> None:
        executor = self.book.executors.get((msg.framework_id, msg.executor_id))
        if executor is None or executor.phase != ExecutorPhase.REGISTERED:
            log.warning("%s: no registered executor %s for a framework message; dropped", self.address, msg.executor_id)
            self.counters["framework_messages_dropped"] += 1
            return
        self.send(executor.address, msg)

    @on(ExecutorToFramework)
    def _on_executor_to_framework(self: "Agent", msg: ExecutorToFramework) -> None:
        if not self._from_executor(msg.framework_id, msg.executor_id):
            return
        if (msg.framework_id, msg.executor_id) not in self.book.executors:
            log.warning("%s: message from unknown executor %s dropped", self.address, msg.executor_id)
            return
        self.send_to_master(replace(msg, agent_id=self.agent_id))

    @on(TaskOutputAck)
    def _on_task_output_ack(self: "Agent", msg: TaskOutputAck) -> None:
        # A framework of another principal acknowledged relayed output (actors/master/
        # output_relay.py); the executor believes only its agent's principal, so it goes on from here.
        executor = self.book.executors.get((msg.framework_id, msg.executor_id))
        if self.envelope is None or self.envelope.sender != self.leader_address or executor is None:
            self.counters["output_acks_dropped"] += 1
            return
        self.send(executor.address, msg)


def _role(framework: FrameworkInfo, info: TaskInfo) -> str:
    roles = sorted(info.resources.roles())
    if roles:
        return roles[0]
    return framework.roles[0] if framework.roles else "*"
