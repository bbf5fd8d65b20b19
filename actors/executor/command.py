"""The built-in command executor: runs each command task as a child process.

One per (framework, agent), executor id `mesobus-command` (**Differs** from Mesos, which
starts one per task). Each task runs in `<sandbox>/tasks/<task_id>/` with its stdout and
stderr there, in its own process group, under the task's limits (see `limits.py`):

    TASK_STARTING -> TASK_RUNNING -> TASK_FINISHED (exit 0)
                                  -> TASK_FAILED (exit_code, message; memory limit reason)
                                  -> TASK_KILLING -> TASK_KILLED (SIGTERM, then SIGKILL
                                     after the grace period, default 3 s)
                  -> TASK_FAILED (its URIs could not be fetched: REASON_CONTAINER_LAUNCH_FAILED)
                  -> TASK_KILLED (killed while its URIs were being fetched)

A task with `CommandInfo.uris` is fetched first (actors/fetcher: a child process that
reads local files as the task's user and hands it what it fetched, watched by a thread
that posts TaskFetched), so a download never holds up this actor. Its process is started
on a launch thread of the process runner (cgroups, fork and exec: `_Launch`), which posts
TaskStarted; TASK_RUNNING is sent from that message's handler, so launches do not queue
behind each other on this actor and every decision stays in a handler. A task killed
while it is being started goes TASK_KILLING -> TASK_KILLED, never TASK_RUNNING.

It exits on ShutdownExecutor (after killing its tasks), or when every task is terminal and
acknowledged and nothing arrived for `MESOBUS_EXECUTOR_IDLE_TIMEOUT` seconds (registered or
not: an executor whose agent never answered has nothing to wait for); the agent usually
shuts it down first, after its own, shorter, idle time. When its agent has been silent for
`MESOBUS_RECOVERY_TIMEOUT` seconds (see `Executor`) it kills its tasks and exits, even with
updates still unacknowledged: nobody is left to acknowledge them.

>>> from actors.executor import CommandExecutor, run_executor
>>> # python -m actors.executor     (what the agent starts) is run_executor(CommandExecutor)
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import msgpack
from pathlib import Path

from actors.executor.base import Executor
from actors.executor.become import become_argv
from actors.executor.environment import ExecutorEnv
from actors.executor.health import HealthChecks, framework_message_sender
from actors.executor.limits import Limits, detect_limits
from actors.executor.output_stream import OutputStreaming
from actors.executor.processes import ProcessRunner, TaskProcess, command_argv, describe_exit, exit_code
from actors.executor.task_sandbox import create_task_sandbox
from actors.executor.task_user import TaskUser, TaskUserError, task_user
from actors.fetcher import FetcherRun, start_fetcher
from actors.fetcher.config import Owner
from actors.runtime import ActorContext, Transport, on
from messages import (
    AgentInfo,
    ExecutorIdleCheck,
    ExecutorInfo,
    FrameworkInfo,
    KillGraceExpired,
    StatusReason,
    TaskInfo,
    TaskFetched,
    TaskProcessExited,
    TaskStarted,
    TaskState,
)
from messages.ids import COMMAND_EXECUTOR_ID, id_problem

log = logging.getLogger(__name__)

__all__ = ["COMMAND_EXECUTOR_ID", "CommandExecutor"]


@dataclass
class RunningTask:
    info: TaskInfo
    process: TaskProcess
    sandbox: Path
    killing: bool = False
    kill_timer: str = ""


@dataclass
class StartingTask:
    info: TaskInfo
    sandbox: Path
    env: dict[str, str]
    kill_grace: float | None = None  # set when a kill arrived while it was being started


@dataclass
class Spawned:
    """Processes the launch threads started whose TaskStarted is not handled yet (the
    actor's thread takes them from here)."""

    processes: dict[str, TaskProcess] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, task_id: str, process: TaskProcess) -> None:
        with self.lock:
            self.processes[task_id] = process

    def take(self, task_id: str) -> TaskProcess | None:
        with self.lock:
            return self.processes.pop(task_id, None)

    def take_all(self) -> dict[str, TaskProcess]:
        with self.lock:
            taken, self.processes = self.processes, {}
        return taken


@dataclass
class FetchingTask:
    info: TaskInfo
    user: TaskUser
    sandbox: Path
    run: FetcherRun


class CommandExecutor(OutputStreaming, Executor):
    """Runs `TaskInfo.command` of each task it is given."""

    def __init__(
        self,
        env: ExecutorEnv,
        transport: Transport,
        context: ActorContext | None = None,
        *,
        runner: ProcessRunner | None = None,
        limits: Limits | None = None,
        fetcher: Callable[..., FetcherRun] = start_fetcher,
    ) -> None:
        super().__init__(env, transport, context)
        self.runner = runner or ProcessRunner()
        self.fetcher = fetcher  # start_fetcher's signature; tests swap it
        self.fetching: dict[str, FetchingTask] = {}
        self.limits = limits or detect_limits(env.limits, scope=f"{env.agent_id}-{env.framework_id}")
        self.starting: dict[str, StartingTask] = {}  # handed to a launch thread
        self.spawned = Spawned()
        self.running: dict[str, RunningTask] = {}
        self.shutting_down = False
        self._idle_generation = 0
        self._idle_timer = ""
        self.health = HealthChecks(framework_message_sender(self))
        log.info("%s: task limits: %s", self.address, self.limits.describe())

    def on_start(self) -> None:
        super().on_start()
        self._arm_idle()  # also while it waits for its agent to answer RegisterExecutor

    # --- callbacks ----------------------------------------------------------------------

    def registered(self, executor_info: ExecutorInfo, framework_info: FrameworkInfo, agent_info: AgentInfo) -> None:
        self._arm_idle()

    def launch_task(self, task: TaskInfo) -> None:
        self._idle_generation += 1
        if self.shutting_down:
            self.update(task.task_id, TaskState.TASK_KILLED, message="the executor is shutting down")
            return
        problem = self._launch_problem(task)
        if problem:
            self.update(task.task_id, TaskState.TASK_ERROR, message=problem, reason=StatusReason.REASON_TASK_INVALID)
            return
        assert task.command is not None
        try:
            user = self._task_user(task)
            sandbox = create_task_sandbox(self.env.sandbox, task.task_id)
            private_to(sandbox, user)
        except (TaskUserError, OSError) as err:
            self.update(task.task_id, TaskState.TASK_ERROR, message=str(err), reason=StatusReason.REASON_TASK_INVALID)
            return
        self.update(task.task_id, TaskState.TASK_STARTING)
        if task.command.uris:
            self._fetch(task, user, sandbox)
        else:
            self._start(task, user, sandbox)

    def _fetch(self, task: TaskInfo, user: TaskUser, sandbox: Path) -> None:
        assert task.command is not None
        report, task_id = self.post_to_self, task.task_id
        config = self.env.fetcher
        owner = Owner(user.name, user.uid, user.gid, tuple(user.groups)) if user.switches else None
        try:
            run = self.fetcher(
                task.command.uris, sandbox, config, owner, sandbox / "stderr",
                lambda reason: report(TaskFetched(task_id, reason)),
            )
        except (OSError, ValueError, subprocess.SubprocessError) as err:
            self._fetch_failed(task_id, f"cannot start the fetcher: {err}")
            return
        self.fetching[task_id] = FetchingTask(task, user, sandbox, run)

    def _fetch_failed(self, task_id: str, reason: str) -> None:
        # Mesos says REASON_CONTAINER_LAUNCH_FAILED too: it has no reason of the fetcher's own.
        self.update(task_id, TaskState.TASK_FAILED, message=f"fetcher: {reason}",
                    reason=StatusReason.REASON_CONTAINER_LAUNCH_FAILED)

    @on(TaskFetched)
    def _on_task_fetched(self, msg: TaskFetched) -> None:
        fetching = self.fetching.pop(msg.task_id, None)
        if fetching is None:
            return  # killed while it fetched: already TASK_KILLED
        if msg.error:
            self._fetch_failed(msg.task_id, msg.error)
        elif self.shutting_down:
            self.update(msg.task_id, TaskState.TASK_KILLED, message="the executor is shutting down")
        else:
            self._start(fetching.info, fetching.user, fetching.sandbox)
        self._exit_if_done()

    def _start(self, task: TaskInfo, user: TaskUser, sandbox: Path) -> None:
        """Hand the task's start to a launch thread; TaskStarted says how it went."""
        assert task.command is not None
        argv = command_argv(task.command)
        as_user = user if user.switches else None
        if as_user is not None and self.limits.wrapper_as_root:
            # The limits' wrapper joins cgroups as root first, then becomes the user.
            argv, as_user = become_argv(user.uid, user.gid, user.groups) + argv, None
        env = self._task_environment(task, sandbox, user)
        self.starting[task.task_id] = StartingTask(task, sandbox, env)
        start = _Launch(task.task_id, argv, task.resources.scalar("cpus"), task.resources.scalar("mem"),
                        sandbox, env, as_user)
        try:
            self.runner.submit(partial(start.run, self.runner, self.limits, self.spawned, self.post_to_self))
        except RuntimeError as err:  # the runner is closed: the executor is stopping
            self.starting.pop(task.task_id)
            self.update(task.task_id, TaskState.TASK_FAILED, message=f"cannot start the command: {err}",
                        reason=StatusReason.REASON_CONTAINER_LAUNCH_FAILED)

    @on(TaskStarted)
    def _on_task_started(self, msg: TaskStarted) -> None:
        starting = self.starting.pop(msg.task_id, None)
        process = self.spawned.take(msg.task_id)
        if starting is None:
            return
        if not msg.error and process is None:
            msg = TaskStarted(msg.task_id, error="its process is not known to this executor")
        if msg.error:
            self.limits.release(msg.task_id)
            self.update(msg.task_id, TaskState.TASK_FAILED, message=msg.error,
                        reason=StatusReason.REASON_CONTAINER_LAUNCH_FAILED)
            self._exit_if_done()
            return
        assert process is not None
        task_id = msg.task_id
        running = self.running[task_id] = RunningTask(starting.info, process, starting.sandbox)
        if starting.kill_grace is not None:  # killed while it started: never RUNNING
            self._terminate(running, starting.kill_grace)
            return
        self.stream_output(starting.info, starting.sandbox)  # when the framework asked for it (messages/output.py)
        self.update(task_id, TaskState.TASK_RUNNING, message=f"pid {msg.pid}")
        self.health.start(starting.info, starting.sandbox, starting.env)

    def kill_task(self, task_id: str) -> None:
        fetching = self.fetching.pop(task_id, None)
        if fetching is not None:
            fetching.run.kill()
            self.update(task_id, TaskState.TASK_KILLED, message="killed while its URIs were being fetched")
            return
        starting = self.starting.get(task_id)
        if starting is not None:
            if starting.kill_grace is None:  # its process gets SIGTERM once it exists (_on_task_started)
                starting.kill_grace = self._kill_grace(starting.info)
                self.update(task_id, TaskState.TASK_KILLING)
            return
        running = self.running.get(task_id)
        if running is None:
            log.info("%s: kill for %s, which is not running here", self.address, task_id)
            return
        if running.killing:
            return
        self.update(task_id, TaskState.TASK_KILLING)
        self._terminate(running, self._kill_grace(running.info))

    def _kill_grace(self, info: TaskInfo) -> float:
        """The KillTask's grace period, else the task's, else the executor's."""
        for grace in (self.requested_grace_period, info.kill_grace_period):
            if grace is not None:
                return grace
        return self.env.kill_grace_period

    def _terminate(self, running: RunningTask, grace: float) -> None:
        """SIGTERM to the task's process group, SIGKILL when `grace` seconds are over."""
        running.killing = True
        running.process.signal(signal.SIGTERM)
        if grace > 0:
            running.kill_timer = self.delay(grace, KillGraceExpired(running.info.task_id))
        else:
            running.process.signal(signal.SIGKILL)

    def shutdown(self) -> None:
        self.shutting_down = True
        self.requested_grace_period = None
        for task_id in list(self.running) + list(self.fetching) + list(self.starting):
            self.kill_task(task_id)
        for task_id in [t for t in self.tasks if t not in self.running and t not in self.starting]:
            self.update(task_id, TaskState.TASK_KILLED, message="executor shut down")
        self._exit_if_done()

    def acknowledged(self, task_id: str, uuid: str) -> None:
        self._arm_idle()

    # --- process events -----------------------------------------------------------------

    @on(TaskProcessExited)
    def _on_process_exited(self, msg: TaskProcessExited) -> None:
        running = self.running.pop(msg.task_id, None)
        self.health.stop(msg.task_id)
        if running is None:
            return
        self.cancel(running.kill_timer)
        stderr = running.sandbox / "stderr"
        memory = msg.memory_limited or self.limits.memory_limited(msg.task_id, msg.returncode, stderr)
        self.limits.release(msg.task_id)
        how = describe_exit(msg.returncode)
        tail = output_tail(running.sandbox)
        self.output_ended(msg.task_id)
        if running.killing:
            self.update(msg.task_id, TaskState.TASK_KILLED, message=f"killed: {how}", data=tail)
        elif msg.returncode == 0:
            self.update(msg.task_id, TaskState.TASK_FINISHED, message=how, exit_code=0, data=tail)
        elif memory:
            self.update(
                msg.task_id,
                TaskState.TASK_FAILED,
                message=f"{how}: memory limit of {running.info.resources.scalar('mem'):g} MB reached",
                reason=StatusReason.REASON_CONTAINER_LIMITATION_MEMORY,
                exit_code=exit_code(msg.returncode),
                data=tail,
            )
        else:
            self.update(
                msg.task_id, TaskState.TASK_FAILED, message=how, exit_code=exit_code(msg.returncode), data=tail
            )
        self._exit_if_done()

    @on(KillGraceExpired)
    def _on_kill_grace_expired(self, msg: KillGraceExpired) -> None:
        running = self.running.get(msg.task_id)
        if running is not None:
            log.info("%s: %s outlived its grace period; SIGKILL", self.address, msg.task_id)
            running.process.signal(signal.SIGKILL)

    # --- idleness -----------------------------------------------------------------------

    def _idle(self) -> bool:
        return (not self.running and not self.starting and not self.fetching and not self.tasks
                and not self.unacknowledged)

    def _exit_if_done(self) -> None:
        if self.shutting_down and not self.running and not self.starting and not self.fetching:
            self.exit()

    def _arm_idle(self) -> None:
        if not self._idle():
            return
        self._idle_generation += 1
        self.cancel(self._idle_timer)
        self._idle_timer = self.delay(self.env.idle_timeout, ExecutorIdleCheck(self._idle_generation))

    @on(ExecutorIdleCheck)
    def _on_idle_check(self, msg: ExecutorIdleCheck) -> None:
        if msg.generation == self._idle_generation and self._idle():
            log.info("%s: idle for %gs; exiting", self.address, self.env.idle_timeout)
            self.exit()

    # --- helpers ------------------------------------------------------------------------

    def on_stop(self) -> None:
        self.health.stop_all()
        # Launches under way end first, so that their processes are killed too (pykka says
        # the actor stopped before on_stop: waiting for nothing would delay its unsubscribe).
        self.runner.close(wait=bool(self.starting))
        processes = {task_id: r.process for task_id, r in self.running.items()} | self.spawned.take_all()
        for process in processes.values():
            process.signal(signal.SIGKILL)  # never leave tasks behind
        for task_id in {*processes, *self.starting}:
            self.limits.release(task_id)  # nor their cgroups
        for fetching in self.fetching.values():
            fetching.run.kill()
        super().on_stop()

    def _launch_problem(self, task: TaskInfo) -> str | None:
        if task.command is None:
            return f"task {task.task_id} has no command (the command executor runs commands only)"
        problem = id_problem("task id", task.task_id)
        if problem:
            return problem
        return None

    def _task_user(self, task: TaskInfo) -> TaskUser:
        """The user the task runs as: its command's, else its framework's (task_user.py)."""
        assert task.command is not None
        framework_user = self.framework_info.user if self.framework_info is not None else ""
        return task_user(task.command.user, framework_user, allow_root=self.env.root_tasks)

    def _task_environment(self, task: TaskInfo, sandbox: Path, user: TaskUser) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MESOBUS_")}
        assert task.command is not None
        if user.switches:
            env.update(HOME=user.home, USER=user.name, LOGNAME=user.name)
        env.update(task.command.environment)
        env.update(
            MESOBUS_TASK_ID=task.task_id,
            MESOBUS_FRAMEWORK_ID=self.framework_id,
            MESOBUS_AGENT_ID=self.agent_id,
            MESOBUS_SANDBOX=str(sandbox),
        )
        return env


@dataclass(frozen=True)
class _Launch:
    """One task's start, run on a launch thread: its limits (cgroups), then its process,
    born inside them. It touches no state of the actor's: it reports with TaskStarted."""

    task_id: str
    argv: list[str]
    cpus: float
    mem_mb: float
    sandbox: Path
    env: dict[str, str]
    user: TaskUser | None  # the process runner switches to it (None: no switch here)

    def run(self, runner: ProcessRunner, limits: Limits, spawned: Spawned, post: Callable[[object], None]) -> None:
        task_id = self.task_id
        reported = threading.Event()  # TaskProcessExited must come after TaskStarted

        def exited(code: int) -> None:
            reported.wait()
            post(TaskProcessExited(task_id, code))

        try:
            argv = limits.wrap(self.argv, task_id, cpus=self.cpus, mem_mb=self.mem_mb)
            process = runner.start(argv, cwd=self.sandbox, env=self.env, stdout=self.sandbox / "stdout",
                                   stderr=self.sandbox / "stderr", on_exit=exited, user=self.user,
                                   born_in=limits.joined(task_id))
        except (OSError, ValueError, subprocess.SubprocessError) as err:
            post(TaskStarted(task_id, error=f"cannot start the command: {err}"))
            return
        spawned.put(task_id, process)
        try:
            post(TaskStarted(task_id, process.pid))
        finally:
            reported.set()  # whatever happened, the exit watcher must not wait forever


def private_to(sandbox: Path, user: TaskUser) -> None:
    """Hand a task's sandbox (and its stdout, stderr) to the task's user, readable by it
    alone: another task, of another user, cannot look in."""
    if user.switches:
        for path in (sandbox, sandbox / "stdout", sandbox / "stderr"):
            os.chown(path, user.uid, user.gid)
    os.chmod(sandbox, 0o700)
    for name in ("stdout", "stderr"):
        os.chmod(sandbox / name, 0o600)


OUTPUT_TAIL = 32 * 1024  # bytes of stdout and of stderr carried by a terminal status


def output_tail(sandbox: Path, limit: int = OUTPUT_TAIL) -> bytes:
    """The end of a task's stdout and stderr as msgpack `{"stdout": b, "stderr": b}`, so
    `mesobus run` can print a remote task's output (the sandbox keeps all of it)."""
    out = {}
    for name in ("stdout", "stderr"):
        try:
            with open(sandbox / name, "rb") as f:
                f.seek(0, 2)
                f.seek(max(f.tell() - limit, 0))
                out[name] = f.read()
        except OSError:
            out[name] = b""
    return msgpack.packb(out, use_bin_type=True)
