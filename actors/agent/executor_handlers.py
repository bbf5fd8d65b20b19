"""The agent's side of tasks and executors: RunTask, KillTask, shutdowns, executor
(re-)registration and exit, and the framework <-> executor relay. Part of `Agent`."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from actors.agent.launcher import ExecutorSpec, LaunchError
from actors.agent.sandbox import create_task_sandbox, task_sandbox
from actors.agent.state import COMMAND_EXECUTOR_ID, ExecutorPhase, ExecutorRecord, TaskRecord, executor_address
from actors.agent.validation import run_task_problem
from actors.executor.environment import ExecutorEnv
from actors.executor.wire import decode_update
from actors.runtime import on
from messages import (
    CommandInfo,
    ExecutorIdleTimeout,
    ExecutorInfo,
    ExecutorRegistered,
    ExecutorRegistrationTimeout,
    ExecutorReregistered,
    ExecutorShutdownTimeout,
    ExecutorTerminated,
    ExecutorToFramework,
    ExitedExecutor,
    FrameworkInfo,
    FrameworkToExecutor,
    KillTask,
    MessageError,
    RegisterExecutor,
    ReregisterExecutor,
    RunTask,
    ShutdownExecutor,
    ShutdownFramework,
    StatusReason,
    StatusSource,
    TaskInfo,
    TaskState,
)

if TYPE_CHECKING:
    from actors.agent.actor import Agent

log = logging.getLogger(__name__)

R = StatusReason


class ExecutorHandlers:
    """Mixed into `Agent`."""

    # --- tasks from the master --------------------------------------------------------

    @on(RunTask)
    def _on_run_task(self: "Agent", msg: RunTask) -> None:
        framework, info = msg.framework, msg.task
        fid, tid = framework.framework_id, info.task_id
        if (fid, tid) in self.book.tasks:
            log.info("%s: RunTask for %s again; ignored", self.address, tid)
            return
        executor_info = self._executor_info(fid, info)
        task = TaskRecord(fid, executor_info.executor_id, info, role=_role(framework, info))
        self.book.tasks[task.key] = task
        problem = run_task_problem(msg, self.agent_id, self.agent_info.resources)
        if problem:
            self.agent_update(fid, tid, TaskState.TASK_ERROR, R.REASON_TASK_INVALID, problem)
            return
        self.book.frameworks[fid] = framework
        self.checkpoint.save_framework(framework)
        if self.launcher.simulates_tasks:
            self.checkpoint.save_task(task, None)
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
            try:
                executor = self._launch(fid, executor_info)
            except LaunchError as err:
                self.agent_update(fid, tid, TaskState.TASK_FAILED, R.REASON_CONTAINER_LAUNCH_FAILED, str(err))
                return
        if executor_info.executor_id == COMMAND_EXECUTOR_ID:
            task.sandbox = create_task_sandbox(executor.sandbox, tid)
        else:
            task.sandbox = executor.sandbox
        self.checkpoint.save_task(task, None)
        self._deliver(executor, info)

    def _executor_info(self: "Agent", framework_id: str, info: TaskInfo) -> ExecutorInfo:
        if info.executor is not None:
            return replace(info.executor, framework_id=framework_id)
        return ExecutorInfo(
            executor_id=COMMAND_EXECUTOR_ID,
            command=CommandInfo(f"{sys.executable} -m actors.executor"),
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
            if not any(t.key == key for t in self.book.completed):
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

    # --- executor lifecycle -----------------------------------------------------------

    def _launch(self: "Agent", framework_id: str, info: ExecutorInfo, queued: list[TaskInfo] | None = None) -> ExecutorRecord:
        run_id = self.new_id()
        sandbox = self.sandboxes.create_executor(framework_id, info.executor_id, run_id)
        framework = self.book.frameworks[framework_id]
        env = ExecutorEnv(
            broker=self.config.broker_url,
            agent_id=self.agent_id,
            framework_id=framework_id,
            executor_id=info.executor_id,
            sandbox=sandbox,
            checkpoint=framework.checkpoint,
            kill_grace_period=self.config.kill_grace_period,
            limits=self.config.limits,
        )
        executor = ExecutorRecord(framework_id, info, run_id, sandbox, queued=list(queued or ()))
        executor.handle = self.launcher.launch(ExecutorSpec(env, info.command, run_id), self.exit_reporter(executor))
        executor.pid = executor.handle.pid
        self.book.executors[executor.key] = executor
        self.checkpoint.save_executor(executor)
        executor.timer = self.delay(
            self.config.executor_registration_timeout, ExecutorRegistrationTimeout(framework_id, info.executor_id, run_id)
        )
        log.info("%s: launched executor %s of %s (run %s)", self.address, info.executor_id, framework_id, run_id)
        return executor

    def exit_reporter(self: "Agent", executor: ExecutorRecord):
        fid, eid, run_id = executor.framework_id, executor.executor_id, executor.run_id
        return lambda status, message: self.post_to_self(ExecutorTerminated(fid, eid, run_id, status, message))

    @on(RegisterExecutor)
    def _on_register_executor(self: "Agent", msg: RegisterExecutor) -> None:
        executor = self.book.executors.get((msg.framework_id, msg.executor_id))
        if not self._from_executor(msg.framework_id, msg.executor_id):
            return
        if executor is None or executor.phase == ExecutorPhase.TERMINATING:
            self.reply(ShutdownExecutor(msg.framework_id, msg.executor_id))
            return
        framework = self.book.frameworks[executor.framework_id]
        self.reply(ExecutorRegistered(executor.info, framework, self.agent_info))
        if executor.phase == ExecutorPhase.REGISTERED:
            return  # an answer to its retry
        if executor.phase == ExecutorPhase.RECONNECTING:
            # Started but not registered when the agent restarted: it never got a task.
            executor.queued = [t.info for t in self.book.tasks_of(executor) if t.state == TaskState.TASK_STAGING]
        executor.phase = ExecutorPhase.REGISTERED
        self.cancel(executor.timer)
        queued, executor.queued = executor.queued, []
        for info in queued:
            self.send(executor.address, RunTask(framework, info))
        self.reconnect_progress()
        self._check_idle(executor)

    @on(ReregisterExecutor)
    def _on_reregister_executor(self: "Agent", msg: ReregisterExecutor) -> None:
        executor = self.book.executors.get((msg.framework_id, msg.executor_id))
        if not self._from_executor(msg.framework_id, msg.executor_id):
            return
        if executor is None or executor.phase in (ExecutorPhase.TERMINATING, ExecutorPhase.LAUNCHING):
            self.reply(ShutdownExecutor(msg.framework_id, msg.executor_id))
            return
        self.reply(ExecutorReregistered(self.agent_info))
        if executor.phase == ExecutorPhase.REGISTERED:
            return
        executor.phase = ExecutorPhase.REGISTERED
        for raw in msg.updates:
            try:
                update = decode_update(raw)
            except MessageError as err:
                log.warning("%s: bad update from %s: %s", self.address, executor.executor_id, err)
                continue
            if (update.framework_id, update.executor_id) == executor.key:
                self.add_update(replace(update, agent_id=self.agent_id))
        running = {t.task_id for t in msg.tasks}
        framework = self.book.frameworks[executor.framework_id]
        for task in self.book.tasks_of(executor):
            if task.state.is_terminal:
                continue
            if task.task_id not in running:
                if task.state == TaskState.TASK_STAGING:
                    self.send(executor.address, RunTask(framework, task.info))
                else:
                    self.agent_update(
                        *task.key, self.lost_state(task.framework_id), R.REASON_AGENT_RESTARTED,
                        "its executor no longer knows this task", executor_id=task.executor_id,
                    )
            elif task.kill_requested:
                self.send(executor.address, KillTask(task.framework_id, task.task_id, self.agent_id))
        self.reconnect_progress()
        self._check_idle(executor)

    def _from_executor(self: "Agent", framework_id: str, executor_id: str) -> bool:
        sender = self.envelope.sender if self.envelope else ""
        if sender != executor_address(framework_id, executor_id):
            log.warning("%s: %s claims to be executor %s of %s", self.address, sender, executor_id, framework_id)
            return False
        return True

    @on(ExecutorRegistrationTimeout)
    def _on_registration_timeout(self: "Agent", msg: ExecutorRegistrationTimeout) -> None:
        executor = self._current(msg.framework_id, msg.executor_id, msg.run_id)
        if executor is None or executor.phase != ExecutorPhase.LAUNCHING:
            return
        why = f"executor {msg.executor_id} did not register within {self.config.executor_registration_timeout:g}s"
        log.warning("%s: %s", self.address, why)
        for info in executor.queued:
            self.agent_update(
                msg.framework_id, info.task_id, TaskState.TASK_FAILED, R.REASON_CONTAINER_LAUNCH_FAILED, why,
                executor_id=msg.executor_id,
            )
        executor.queued.clear()
        self.shutdown_executor(executor, requested=False)

    @on(ExecutorTerminated)
    def _on_executor_terminated(self: "Agent", msg: ExecutorTerminated) -> None:
        executor = self._current(msg.framework_id, msg.executor_id, msg.run_id)
        if executor is not None:
            self.executor_gone(executor, msg.status, msg.message)

    def executor_gone(self: "Agent", executor: ExecutorRecord, status: int, message: str) -> None:
        """The executor's run is over: fail (or, when asked, kill) what it still ran."""
        log.info("%s: executor %s of %s %s", self.address, executor.executor_id, executor.framework_id, message)
        self.cancel(executor.timer)
        del self.book.executors[executor.key]
        self.checkpoint.remove_executor(*executor.key)
        waiting = {info.task_id for info in executor.queued}
        for task in self.book.tasks_of(executor):
            if task.state.is_terminal or task.task_id in waiting:
                continue
            killed = task.kill_requested or executor.shutdown_requested
            self.agent_update(
                *task.key,
                TaskState.TASK_KILLED if killed else TaskState.TASK_FAILED,
                R.REASON_EXECUTOR_TERMINATED,
                f"executor {executor.executor_id} {message}",
                executor_id=executor.executor_id,
            )
        self.send_to_master(ExitedExecutor(executor.framework_id, executor.executor_id, self.agent_id, status))
        if executor.queued:  # tasks that arrived while it was shutting down: a new run
            try:
                self._launch(executor.framework_id, executor.info, executor.queued)
            except LaunchError as err:
                for info in executor.queued:
                    self.agent_update(
                        executor.framework_id, info.task_id, TaskState.TASK_FAILED,
                        R.REASON_CONTAINER_LAUNCH_FAILED, str(err), executor_id=executor.executor_id,
                    )
        self._maybe_remove_framework(executor.framework_id)

    def _current(self: "Agent", framework_id: str, executor_id: str, run_id: str) -> ExecutorRecord | None:
        executor = self.book.executors.get((framework_id, executor_id))
        return executor if executor is not None and executor.run_id == run_id else None

    # --- idleness and framework removal -----------------------------------------------

    def task_done(self: "Agent", task: TaskRecord) -> None:
        """A task's stream finished; its executor may now be idle."""
        executor = self.book.executors.get((task.framework_id, task.executor_id))
        if executor is not None:
            self._check_idle(executor)
        self._maybe_remove_framework(task.framework_id)

    def _check_idle(self: "Agent", executor: ExecutorRecord) -> None:
        """The command executor is shut down after a while with nothing to do."""
        if executor.executor_id != COMMAND_EXECUTOR_ID or executor.phase != ExecutorPhase.REGISTERED:
            return
        if executor.queued or self.book.tasks_of(executor):
            return
        executor.idle_generation += 1
        self.delay(
            self.config.command_executor_idle,
            ExecutorIdleTimeout(*executor.key, executor.run_id, executor.idle_generation),
        )

    @on(ExecutorIdleTimeout)
    def _on_idle_timeout(self: "Agent", msg: ExecutorIdleTimeout) -> None:
        executor = self._current(msg.framework_id, msg.executor_id, msg.run_id)
        if executor is None or executor.idle_generation != msg.generation:
            return
        if executor.phase == ExecutorPhase.REGISTERED and not executor.queued and not self.book.tasks_of(executor):
            log.info("%s: command executor of %s idle; shutting it down", self.address, msg.framework_id)
            self.shutdown_executor(executor, requested=False)

    def _maybe_remove_framework(self: "Agent", framework_id: str) -> None:
        if self.book.executors_of(framework_id):
            return
        if framework_id in self.frameworks_shutting_down:
            # No acknowledgements will come for a removed framework: drop its streams.
            for stream in self.updates.forget_framework(framework_id):
                self.cancel(self._update_timers.pop(stream.key, ""))
            for task in [t for t in self.book.tasks.values() if t.framework_id == framework_id]:
                self.book.finish(task)
            self.frameworks_shutting_down.discard(framework_id)
        elif any(t.framework_id == framework_id for t in self.book.tasks.values()):
            return
        if self.book.frameworks.pop(framework_id, None) is not None:
            self.checkpoint.remove_framework(framework_id)

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


def _role(framework: FrameworkInfo, info: TaskInfo) -> str:
    roles = sorted(info.resources.roles())
    if roles:
        return roles[0]
    return framework.roles[0] if framework.roles else "*"
