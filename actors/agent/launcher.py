"""How the agent starts executors (its effects), chosen by the executor mode:

- `ProcessLauncher` (on a broker): each executor is an OS process, `python -m actors.executor`
  for the command executor or the ExecutorInfo's command, in its sandbox, with the MESOBUS_*
  variables of protocol.md; it outlives an agent restart. A watcher thread reports its exit.
- `InProcessLauncher` (embedded, `memory://`): executors are actors in the agent's process,
  on the same transport; their tasks are still real child processes.
- `NoopLauncher` (benchmarks, only with `--executor-mode noop`): starts nothing; the agent
  reports each task TASK_RUNNING then TASK_FINISHED at once.

A launcher reports an executor's exit with `report_exit(status, message)`, which the agent
turns into an `ExecutorTerminated` message in its own mailbox.

>>> launcher = NoopLauncher()
>>> launcher.simulates_tasks
True
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import actors
from actors.executor.environment import ExecutorEnv, write_broker_file
from actors.executor.processes import ProcessRunner, command_argv, describe_exit
from actors.executor.task_user import TaskUserError, task_user
from actors.runtime import Transport
from messages import CommandInfo
from messages.ids import COMMAND_EXECUTOR_ID

log = logging.getLogger(__name__)

ReportExit = Callable[[int, str], None]
PROJECT_ROOT = Path(actors.__file__).resolve().parent.parent
_IN_PROCESS_CLASS = re.compile(r"-m\s+actors\.executor\s+(\S+:\S+)\s*$")


class LaunchError(RuntimeError):
    """The executor could not be started; the text says why."""


@dataclass(frozen=True)
class ExecutorSpec:
    """What to start: which executor, its command, and the environment it gets."""

    env: ExecutorEnv
    command: CommandInfo
    run_id: str
    framework_user: str = ""  # a custom executor runs as its command's user, else this one

    @property
    def is_command_executor(self) -> bool:
        return self.env.executor_id == COMMAND_EXECUTOR_ID


@dataclass
class Handle:
    pid: int = 0
    process: Any = None  # a Popen, or an in-process executor's actor ref


class Launcher:
    """The interface; `simulates_tasks` launchers start nothing (noop mode)."""

    simulates_tasks = False

    def launch(self, spec: ExecutorSpec, report_exit: ReportExit) -> Handle:
        raise LaunchError(f"{type(self).__name__} cannot launch executors")

    def recover(self, spec: ExecutorSpec, pid: int, report_exit: ReportExit) -> Handle | None:
        """After an agent restart: a handle watching the checkpointed executor, or None
        when it is certainly gone."""
        return None

    def kill(self, handle: Handle) -> None:
        """Force the executor to end (it did not shut down when asked)."""

    def close(self) -> None:
        """The agent stops: release what only lives in this process."""


class NoopLauncher(Launcher):
    simulates_tasks = True


class ProcessLauncher(Launcher):
    """Executors as OS processes; `kill` sends SIGTERM, then SIGKILL after `kill_after` s."""

    def __init__(self, kill_after: float = 5.0, poll_interval: float = 1.0) -> None:
        self.kill_after = kill_after
        self.poll_interval = poll_interval

    def launch(self, spec: ExecutorSpec, report_exit: ReportExit) -> Handle:
        user = None
        if spec.is_command_executor:
            # The command executor stays the agent's user: it switches each task to its own.
            argv = [sys.executable, "-m", "actors.executor"]
        else:
            argv = command_argv(spec.command)
            try:  # a framework's own executor runs as the framework's user, as its tasks would
                user = task_user(spec.command.user, spec.framework_user, allow_root=spec.env.root_tasks)
            except TaskUserError as err:
                raise LaunchError(f"cannot start executor {spec.env.executor_id}: {err}") from None
        sandbox = spec.env.sandbox
        try:
            env = executor_environment(spec)
            if user is not None and user.switches:
                for path in (sandbox, sandbox / "stdout", sandbox / "stderr", Path(env["MESOBUS_BROKER_FILE"])):
                    os.chown(path, user.uid, user.gid)
                os.chmod(sandbox, 0o700)
                env.update(HOME=user.home, USER=user.name, LOGNAME=user.name)
            process = ProcessRunner().start(  # in a new session: it survives the agent
                argv,
                cwd=sandbox,
                env=env,
                stdout=sandbox / "stdout",
                stderr=sandbox / "stderr",
                on_exit=lambda code: report_exit(code, describe_exit(code)),
                user=user if user is not None and user.switches else None,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as err:
            raise LaunchError(f"cannot start executor {spec.env.executor_id}: {err}") from None
        return Handle(pid=process.pid, process=process)

    def recover(self, spec: ExecutorSpec, pid: int, report_exit: ReportExit) -> Handle | None:
        if not _is_executor(pid, spec.env):
            return None

        def poll() -> None:  # not our child: no exit status, only its disappearance
            while _is_executor(pid, spec.env):
                time.sleep(self.poll_interval)
            report_exit(-1, "exited (status unknown: started before the agent restarted)")

        threading.Thread(target=poll, name=f"executor-{pid}", daemon=True).start()
        return Handle(pid=pid)

    def kill(self, handle: Handle) -> None:
        pid = handle.pid
        if pid <= 0:
            return
        _signal(pid, signal.SIGTERM)  # the executor kills its tasks on SIGTERM

        def escalate() -> None:
            time.sleep(self.kill_after)
            _signal(pid, signal.SIGKILL)

        threading.Thread(target=escalate, name=f"kill-{pid}", daemon=True).start()


class InProcessLauncher(Launcher):
    """Executors as actors in this process (embedded mode).

    Custom executors need their class: give `executors={executor_id or command: cls}`, or
    use the command `python -m actors.executor module:Class`.
    `command_executor_options` go to the CommandExecutor (tests pass `limits=...`).
    """

    def __init__(
        self,
        transport: Transport,
        executors: Mapping[str, type] | None = None,
        command_executor_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.transport = transport
        self.executors = dict(executors or {})
        self.command_executor_options = dict(command_executor_options or {})
        self._live: dict[str, Any] = {}  # address -> actor ref
        self._lock = threading.Lock()

    def launch(self, spec: ExecutorSpec, report_exit: ReportExit) -> Handle:
        from actors.executor.command import CommandExecutor

        options: Mapping[str, Any] = {}
        if spec.is_command_executor:
            cls: type = CommandExecutor
            options = self.command_executor_options
        else:
            cls = self._custom_class(spec)
        try:
            ref = cls.start(spec.env, self.transport, **options)
        except Exception as err:  # its constructor refused (e.g. MESOBUS_LIMITS=cgroups without cgroups)
            raise LaunchError(f"cannot start executor {spec.env.executor_id}: {err}") from None
        address = spec.env.address
        with self._lock:
            self._live[address] = ref

        def watch() -> None:
            ref.actor_stopped.wait()
            with self._lock:
                if self._live.get(address) is ref:
                    del self._live[address]
            report_exit(0, "exited")

        threading.Thread(target=watch, name=f"executor-{address}", daemon=True).start()
        return Handle(pid=0, process=ref)

    def recover(self, spec: ExecutorSpec, pid: int, report_exit: ReportExit) -> Handle | None:
        with self._lock:
            ref = self._live.get(spec.env.address)
        if ref is None or not ref.is_alive():
            return None

        def watch() -> None:
            ref.actor_stopped.wait()
            report_exit(0, "exited")

        threading.Thread(target=watch, name=f"executor-{spec.env.address}", daemon=True).start()
        return Handle(pid=0, process=ref)

    def kill(self, handle: Handle) -> None:
        if handle.process is not None:
            handle.process.stop(block=False)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every executor actor (their tasks are killed) and wait until they have."""
        with self._lock:
            refs = list(self._live.values())
            self._live.clear()
        for ref in refs:
            ref.stop(block=False)
        for ref in refs:
            ref.actor_stopped.wait(timeout)

    def _custom_class(self, spec: ExecutorSpec) -> type:
        from actors.executor.run import load_executor_class

        for key in (spec.env.executor_id, spec.command.value):
            if key in self.executors:
                return self.executors[key]
        match = _IN_PROCESS_CLASS.search(spec.command.value or "")
        if match:
            try:
                return load_executor_class(match.group(1))
            except ValueError as err:
                raise LaunchError(str(err)) from None
        raise LaunchError(
            f"executor {spec.env.executor_id} cannot run in embedded mode: its command is not "
            "`python -m actors.executor module:Class` and no class was registered for it"
        )


def executor_environment(spec: ExecutorSpec) -> dict[str, str]:
    """The environment of an executor process: the agent's (minus MESOBUS_*), the
    executor command's own variables, MESOBUS_* and a PYTHONPATH that finds `actors`.

    The broker URL (with its password) is not among them: it goes into a file in the
    executor's sandbox readable by its owner alone, which the executor removes once read
    (MESOBUS_BROKER_FILE), so no task can find it in /proc/<executor>/environ."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESOBUS_")}
    env.update(spec.command.environment)
    env.update(spec.env.to_environ())
    secret = spec.env.sandbox / ".mesobus-broker"
    write_broker_file(secret, env.pop("MESOBUS_BROKER"))
    env["MESOBUS_BROKER_FILE"] = str(secret)
    paths = [str(PROJECT_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _is_executor(pid: int, env: ExecutorEnv) -> bool:
    """Whether `pid` runs and is this executor (its environment says so: not a reused pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie has exited
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return True  # no /proc: trust the pid
    wanted = {f"MESOBUS_EXECUTOR_ID={env.executor_id}".encode(), f"MESOBUS_FRAMEWORK_ID={env.framework_id}".encode()}
    return wanted <= set(environ)
