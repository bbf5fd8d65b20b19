"""The agent's side of executor runs: launch, (re-)registration, timeouts, exit,
idleness and framework removal. Part of `Agent`."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from actors.agent.launcher import ExecutorSpec, LaunchError
from actors.agent.state import ExecutorPhase, ExecutorRecord, TaskRecord
from actors.executor.environment import ExecutorEnv
from actors.executor.wire import decode_update
from actors.runtime import on
from messages import (
    ExecutorIdleTimeout,
    ExecutorInfo,
    ExecutorRegistered,
    ExecutorRegistrationTimeout,
    ExecutorReregistered,
    ExecutorTerminated,
    ExitedExecutor,
    KillTask,
    MessageError,
    RegisterExecutor,
    ReregisterExecutor,
    RunTask,
    ShutdownExecutor,
    StatusReason,
    TaskInfo,
    TaskState,
)
from messages.addresses import executor_address
from messages.ids import COMMAND_EXECUTOR_ID

if TYPE_CHECKING:
    from actors.agent.actor import Agent

log = logging.getLogger(__name__)

R = StatusReason
LAUNCH_FAILED = "could not be launched: "  # starts an ExecutorTerminated message for a failed launch


class ExecutorHandlers:
    """Mixed into `Agent`."""

    # --- executor lifecycle -----------------------------------------------------------

    def _launch(self: "Agent", framework_id: str, info: ExecutorInfo, queued: list[TaskInfo] | None = None) -> ExecutorRecord:
        """Start a run of the executor. A launch that fails is reported like an exit, as a
        message to the agent's own mailbox: replay (whose launcher never fails) then gets
        the failure from the journal, as an input."""
        run_id = self.new_id()
        sandbox = self.sandboxes.executor_dir(framework_id, info.executor_id, run_id)
        executor = ExecutorRecord(framework_id, info, run_id, sandbox, queued=list(queued or ()), agent_id=self.agent_id)
        self.book.executors[executor.key] = executor
        try:
            self.sandboxes.create_executor(framework_id, info.executor_id, run_id)
            env = ExecutorEnv(
                broker=self.config.broker_url,
                agent_id=self.agent_id,
                framework_id=framework_id,
                executor_id=info.executor_id,
                sandbox=sandbox,
                checkpoint=self.book.frameworks[framework_id].checkpoint,
                kill_grace_period=self.config.kill_grace_period,
                recovery_timeout=self.config.executor_recovery_timeout,
                limits=self.config.limits,
                root_tasks=self.config.root_tasks,
                fetcher_max_size=self.config.fetcher_max_size,
                fetcher_timeout=self.config.fetcher_timeout,
                fetcher_cache_dir=self.config.fetcher.cache_dir,
                fetcher_cache_size=self.config.fetcher_cache_size,
            )
            spec = ExecutorSpec(env, info.command, run_id, self.book.frameworks[framework_id].user)
            executor.handle = self.launcher.launch(spec, self.exit_reporter(executor))
            executor.pid = executor.handle.pid
        except (LaunchError, OSError) as err:
            log.warning("%s: cannot launch executor %s of %s: %s", self.address, info.executor_id, framework_id, err)
            self.exit_reporter(executor)(-1, f"{LAUNCH_FAILED}{err}")
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
        if sender != executor_address(self.agent_id, framework_id, executor_id):
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
        """The executor's run is over: fail (or, when asked, kill) what it still ran.

        Tasks still queued are started on a new run when they arrived while this one was
        shutting down; when it ended before it registered (it crashed), they fail."""
        log.info("%s: executor %s of %s %s", self.address, executor.executor_id, executor.framework_id, message)
        self.cancel(executor.timer)
        del self.book.executors[executor.key]
        self.checkpoint.remove_executor(*executor.key)
        relaunch = executor.phase == ExecutorPhase.TERMINATING and bool(executor.queued)
        waiting = {info.task_id for info in executor.queued}
        for task in self.book.tasks_of(executor):
            if task.state.is_terminal or (relaunch and task.task_id in waiting):
                continue
            if task.task_id in waiting:
                state, reason = TaskState.TASK_FAILED, R.REASON_CONTAINER_LAUNCH_FAILED
                why = f"executor {executor.executor_id} {message}"
                if not message.startswith(LAUNCH_FAILED):
                    why += " before it registered"
            else:
                killed = task.kill_requested or executor.shutdown_requested
                state = TaskState.TASK_KILLED if killed else TaskState.TASK_FAILED
                reason, why = R.REASON_EXECUTOR_TERMINATED, f"executor {executor.executor_id} {message}"
            self.agent_update(*task.key, state, reason, why, executor_id=executor.executor_id)
        self.send_to_master(ExitedExecutor(executor.framework_id, executor.executor_id, self.agent_id, status))
        if relaunch:
            self._launch(executor.framework_id, executor.info, executor.queued)
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
            self.uncheckpoint_framework(framework_id)
