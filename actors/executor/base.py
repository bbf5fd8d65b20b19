"""The `Executor` base class: what framework authors subclass to run their own tasks.

>>> from actors.executor import Executor, run_executor
>>> from messages import TaskState
>>> class Hello(Executor):
...     def launch_task(self, task):
...         self.update(task.task_id, TaskState.TASK_RUNNING)
...         self.update(task.task_id, TaskState.TASK_FINISHED, message="said hello")
>>> # in the executor's own program:  run_executor(Hello)

The agent starts the executor with MESOBUS_* variables (see `ExecutorEnv`); the executor
subscribes `executor.<agent_id>.<framework_id>.<executor_id>` (messages/addresses.py),
registers with its agent (retrying until answered), and then gets callbacks on its actor
thread:

    registered(executor_info, framework_info, agent_info)   after ExecutorRegistered
    reregistered(agent_info)      the agent restarted and took it back
    disconnected()                the agent restarted; re-registration follows
    launch_task(task)             a TaskInfo to run (never twice for one task id)
    kill_task(task_id)            the framework wants it dead
    framework_message(data)       bytes from the scheduler
    shutdown()                    the agent wants it gone: end the tasks, then exit()
    error(message)                the agent sent something that makes no sense

Actions: `update(task_id, state, ...)` / `send_status_update(status)` (a fresh uuid each;
unacknowledged updates are kept and resent when it re-registers), `send_framework_message(data)`
and `exit()`.

Before it is registered, an executor ignores everything but ExecutorRegistered: what else
arrives then was left in its mailbox by an earlier run of the same executor id.

An executor outlives its agent's restarts, not its agent: when it has heard nothing from
the agent for a while (up to a minute) it asks (`PingAgent`; a live agent answers
`PongAgent`), and when nothing at all came from the agent for `MESOBUS_RECOVERY_TIMEOUT`
seconds (15 min; a restarted agent's `ReconnectExecutor` counts) the agent is gone: it
calls `shutdown()` (end the tasks, then exit) and exits a while later whatever happens, as
Mesos' executors do when their agent does not come back within the recovery timeout.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from actors.connect import poster
from actors.executor.environment import ExecutorEnv
from actors.executor.wire import encode_update
from actors.runtime import Actor, ActorContext, Transport, on
from actors.security import SenderChecks, own_principal
from actors.security.senders import claims
from messages import (
    AgentInfo,
    AgentSilenceCheck,
    Envelope,
    ExecutorInfo,
    ExecutorReregistered,
    ExecutorRegistered,
    ExecutorToFramework,
    FrameworkInfo,
    FrameworkToExecutor,
    KillTask,
    PingAgent,
    PongAgent,
    ReconnectExecutor,
    RegisterExecutor,
    ReregisterExecutor,
    RetryExecutorRegistration,
    RunTask,
    ShutdownExecutor,
    StatusReason,
    StatusSource,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskInfo,
    TaskState,
    TaskStatus,
)

log = logging.getLogger(__name__)

REGISTER_BACKOFF = 1.0
REGISTER_BACKOFF_MAX = 10.0
AGENT_CHECK_MAX = 60.0  # how often, at most, a silent agent is asked whether it is there


class Executor(SenderChecks, Actor):
    """Base of every executor; override the callbacks you need."""

    def __init__(self, env: ExecutorEnv, transport: Transport, context: ActorContext | None = None) -> None:
        super().__init__(env.address, transport, context)
        self.env = env
        self.framework_id = env.framework_id
        self.executor_id = env.executor_id
        self.agent_id = env.agent_id
        self.executor_info: ExecutorInfo | None = None
        self.framework_info: FrameworkInfo | None = None
        self.agent_info: AgentInfo | None = None
        self.is_registered = False
        self.tasks: dict[str, TaskInfo] = {}  # launched, no terminal update sent yet
        self.unacknowledged: dict[str, StatusUpdate] = {}  # uuid -> update, in send order
        self.post_to_self = poster(transport, env.address, self.new_id)
        # The grace period the KillTask being handled asked for (None: the task's own).
        self.requested_grace_period: float | None = None
        self._register_timer = ""
        self.agent_heard_at = 0.0  # the last time anything came from the agent
        self.agent_lost = False  # silent for the recovery timeout: shutting down

    # --- callbacks: override these ----------------------------------------------------

    def registered(self, executor_info: ExecutorInfo, framework_info: FrameworkInfo, agent_info: AgentInfo) -> None:
        """The agent accepted this executor; RunTasks follow."""

    def reregistered(self, agent_info: AgentInfo) -> None:
        """The agent restarted and accepted this executor again."""

    def disconnected(self) -> None:
        """The agent restarted; this executor re-registers with it."""

    def launch_task(self, task: TaskInfo) -> None:
        """Run `task`; report its progress with `update`."""
        self.update(task.task_id, TaskState.TASK_FAILED, message=f"{type(self).__name__} runs no tasks")

    def kill_task(self, task_id: str) -> None:
        """Kill `task_id` and report TASK_KILLED (default: report it at once)."""
        if task_id in self.tasks:
            self.update(task_id, TaskState.TASK_KILLED)

    def framework_message(self, data: bytes) -> None:
        """Opaque bytes from the framework's scheduler."""

    def shutdown(self) -> None:
        """End every task, then `exit()` (default: report them killed and exit at once)."""
        for task_id in list(self.tasks):
            self.update(task_id, TaskState.TASK_KILLED, message="executor shut down")
        self.exit()

    def error(self, message: str) -> None:
        log.error("%s: %s", self.address, message)

    # --- actions ----------------------------------------------------------------------

    def send_status_update(self, status: TaskStatus) -> StatusUpdate:
        """Send a task's new status to the agent (reliably: kept until acknowledged)."""
        uuid = self.new_id()
        now = self.now()
        status = replace(
            status,
            uuid=uuid,
            agent_id=self.agent_id,
            executor_id=self.executor_id,
            timestamp=now,
            source=StatusSource.SOURCE_EXECUTOR,
        )
        update = StatusUpdate(self.framework_id, self.executor_id, self.agent_id, status, now, uuid)
        self.unacknowledged[uuid] = update
        if status.state.is_terminal:
            self.tasks.pop(status.task_id, None)
        self.send(self.env.agent_address, update)
        return update

    def update(
        self,
        task_id: str,
        state: TaskState,
        message: str = "",
        data: bytes = b"",
        reason: StatusReason = StatusReason.REASON_NONE,
        exit_code: int | None = None,
    ) -> StatusUpdate:
        """Shorthand for `send_status_update(TaskStatus(task_id, state, ...))`."""
        status = TaskStatus(task_id, state, message=message, reason=reason, data=data, exit_code=exit_code)
        return self.send_status_update(status)

    def send_framework_message(self, data: bytes) -> None:
        self.send(
            self.env.agent_address,
            ExecutorToFramework(self.framework_id, self.executor_id, self.agent_id, bytes(data)),
        )

    def exit(self) -> None:
        """Stop this executor (its process exits when `run_executor` sees it stopped)."""
        self.stop()

    # --- the protocol -----------------------------------------------------------------

    def on_start(self) -> None:
        super().on_start()
        self.agent_heard_at = self.now()
        self._check_agent_later()
        self._register(0)

    def dispatch(self, envelope: Envelope, user_id: str | None = None) -> str | None:
        if user_id is not None:
            problem = self.sender_problem(envelope, user_id)
            if problem is not None:
                return self.refuse(envelope, problem)  # a forgery does not prove the agent alive
        if envelope.sender == self.env.agent_address:
            self.agent_heard_at = self.context.clock.now()
        return super().dispatch(envelope, user_id)

    def sender_problem(self, envelope: Envelope, user: str) -> str | None:
        # Its agent and its own timers publish as the principal it was started with.
        return claims(envelope, envelope.sender[:80], own_principal(self.transport), user)

    def _register(self, attempt: int) -> None:
        self.send(self.env.agent_address, RegisterExecutor(self.framework_id, self.executor_id))
        delay = min(REGISTER_BACKOFF * 2**attempt, REGISTER_BACKOFF_MAX)
        self._register_timer = self.delay(delay, RetryExecutorRegistration(attempt + 1))

    @on(RetryExecutorRegistration)
    def _on_retry_registration(self, msg: RetryExecutorRegistration) -> None:
        if not self.is_registered:
            self._register(msg.attempt)

    @on(ExecutorRegistered)
    def _on_registered(self, msg: ExecutorRegistered) -> None:
        if self.is_registered:
            return  # an answer to a retried RegisterExecutor
        if msg.executor.executor_id != self.executor_id:
            self.error(f"registered as {msg.executor.executor_id!r}, expected {self.executor_id!r}")
            return
        self.is_registered = True
        self.cancel(self._register_timer)
        self.executor_info, self.framework_info, self.agent_info = msg.executor, msg.framework, msg.agent
        self.registered(msg.executor, msg.framework, msg.agent)

    @on(RunTask)
    def _on_run_task(self, msg: RunTask) -> None:
        if not self._expected("RunTask"):
            return
        task = msg.task
        if msg.framework.framework_id != self.framework_id:
            self.error(f"task {task.task_id} is for framework {msg.framework.framework_id}, not {self.framework_id}")
            return
        if task.task_id in self.tasks:
            return  # a redelivered launch
        self.tasks[task.task_id] = task
        self.launch_task(task)

    @on(KillTask)
    def _on_kill_task(self, msg: KillTask) -> None:
        if self._expected("KillTask"):
            self.requested_grace_period = msg.grace_period
            self.kill_task(msg.task_id)

    @on(FrameworkToExecutor)
    def _on_framework_message(self, msg: FrameworkToExecutor) -> None:
        if self._expected("FrameworkToExecutor"):
            self.framework_message(msg.data)

    @on(ShutdownExecutor)
    def _on_shutdown(self, msg: ShutdownExecutor) -> None:
        # Posted to itself on SIGTERM: honoured even before registration.
        own = self.envelope is not None and self.envelope.sender == self.address
        if own or self._expected("ShutdownExecutor"):
            self.shutdown()

    @on(StatusUpdateAcknowledgement)
    def _on_acknowledgement(self, msg: StatusUpdateAcknowledgement) -> None:
        if self.unacknowledged.pop(msg.uuid, None) is not None:
            self.acknowledged(msg.task_id, msg.uuid)

    def acknowledged(self, task_id: str, uuid: str) -> None:
        """An update reached the framework (hook for subclasses that track it)."""

    @on(ReconnectExecutor)
    def _on_reconnect(self, msg: ReconnectExecutor) -> None:
        if not self._expected("ReconnectExecutor"):
            return
        if msg.agent_id != self.agent_id:
            self.error(f"agent {msg.agent_id} asked to reconnect; this executor belongs to {self.agent_id}")
            return
        self.disconnected()
        self.send(
            self.env.agent_address,
            ReregisterExecutor(
                self.framework_id,
                self.executor_id,
                tasks=tuple(self.tasks.values()),
                updates=tuple(encode_update(u) for u in self.unacknowledged.values()),
            ),
        )

    @on(ExecutorReregistered)
    def _on_reregistered(self, msg: ExecutorReregistered) -> None:
        if self._expected("ExecutorReregistered"):
            self.agent_info = msg.agent
            self.reregistered(msg.agent)

    # --- is the agent still there? ---------------------------------------------------------

    def _agent_check_interval(self) -> float:
        return min(AGENT_CHECK_MAX, self.env.recovery_timeout / 4)

    def _check_agent_later(self) -> None:
        if self.env.recovery_timeout > 0:
            self.delay(self._agent_check_interval(), AgentSilenceCheck())

    @on(AgentSilenceCheck)
    def _on_agent_silence_check(self, msg: AgentSilenceCheck) -> None:
        if self.agent_lost:  # shutdown() had its time
            log.warning("%s: exiting (its agent is gone)", self.address)
            self.exit()
            return
        silent = self.now() - self.agent_heard_at
        if silent >= self.env.recovery_timeout:
            log.warning(
                "%s: nothing from agent %s for %.0fs (recovery timeout %gs): it is gone; shutting down",
                self.address, self.agent_id, silent, self.env.recovery_timeout,
            )
            self.agent_lost = True
            self.counters["agent_lost"] += 1
            self.shutdown()
        elif silent >= self._agent_check_interval():
            self.send(self.env.agent_address, PingAgent())  # a live agent answers PongAgent
        self._check_agent_later()

    @on(PongAgent)
    def _on_pong(self, msg: PongAgent) -> None:
        """The agent is there (`dispatch` noted the time)."""

    def _expected(self, what: str) -> bool:
        if not self.is_registered:
            log.info("%s: ignoring %s before registration (left from an earlier run)", self.address, what)
            self.counters["ignored_before_registration"] += 1
        return self.is_registered
