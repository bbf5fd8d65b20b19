"""Task processes (the command executor's effects): start, signal, and watch for exit.

>>> import tempfile, threading
>>> from pathlib import Path
>>> box = Path(tempfile.mkdtemp())
>>> done = threading.Event(); codes = []
>>> p = ProcessRunner().start(["sh", "-c", "echo hi"], cwd=box, env={"PATH": "/usr/bin:/bin"},
...                           stdout=box / "stdout", stderr=box / "stderr",
...                           on_exit=lambda code: (codes.append(code), done.set()))
>>> done.wait(5), codes, (box / "stdout").read_text()
(True, [0], 'hi\\n')

Each task runs in its own session (so its own process group): signals go to the whole
group, so a shell's children die with it. When the task's main process exits, whatever
it left behind in its group is killed.

Starting a task (its cgroups, fork and exec) takes milliseconds, so the command executor
does it on the runner's launch threads (`submit`, a bounded pool), never on its actor's
thread: launches run side by side and the actor goes on handling messages meanwhile.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from messages import CommandInfo

if TYPE_CHECKING:
    from actors.executor.task_user import TaskUser

log = logging.getLogger(__name__)

LAUNCH_THREADS = 4  # tasks started at once; more only queue for the same cores and locks


def command_argv(command: CommandInfo) -> list[str]:
    """The argv of a CommandInfo: `sh -c value` for shell commands, else value + arguments.

    >>> command_argv(CommandInfo("echo hi"))
    ['sh', '-c', 'echo hi']
    >>> command_argv(CommandInfo("/bin/echo", arguments=("echo", "hi"), shell=False))
    ['/bin/echo', 'hi']
    """
    if command.shell:
        return ["sh", "-c", command.value]
    if command.value:
        # As Mesos: `value` is the program, `arguments` the full argv (arguments[0] = its name).
        return [command.value, *command.arguments[1:]]
    return list(command.arguments)


class TaskProcess:
    """A started task: its pid, and signals to its whole process group."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.pid = popen.pid

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # already gone

    @property
    def running(self) -> bool:
        return self.popen.poll() is None


class ProcessRunner:
    """Starts task processes; swap it in tests for one that starts nothing."""

    def __init__(self, launch_threads: int = LAUNCH_THREADS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=launch_threads, thread_name_prefix="task-launch")

    def submit(self, launch: Callable[[], None]) -> None:
        """Run `launch` (which calls `start` and reports what happened) on a launch thread.
        Raises RuntimeError once the runner is closed."""
        self._pool.submit(_logged, launch)

    def close(self, wait: bool = True) -> None:
        """Drop the launches not yet begun; wait for those under way (when `wait`)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def start(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stdout: Path,
        stderr: Path,
        on_exit: Callable[[int], None],
        user: "TaskUser | None" = None,
        born_in: AbstractContextManager[None] | None = None,
    ) -> TaskProcess:
        """Start `argv` (as `user`, with its groups, when given); `on_exit(returncode)` is
        called from a watcher thread when it ends (negative: killed by that signal).
        `born_in` is entered around the fork alone (the task's cgroups v1: see
        cgroups_v1.py), not around the watcher thread, which must stay in the executor's.
        Raises OSError when it cannot be started."""
        switch = user.popen_args() if user is not None else {}
        popen: subprocess.Popen | None = None
        try:
            with open(stdout, "ab") as out, open(stderr, "ab") as err, born_in or nullcontext():
                popen = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                    **switch,
                )
        except BaseException:
            if popen is not None:  # started, but leaving `born_in` failed: it is not watched
                TaskProcess(popen).signal(signal.SIGKILL)
                popen.wait()
            raise
        process = TaskProcess(popen)
        threading.Thread(
            target=_watch, args=(process, on_exit), name=f"task-{popen.pid}", daemon=True
        ).start()
        return process


def _logged(launch: Callable[[], None]) -> None:
    try:
        launch()
    except Exception:  # a pool thread's exception would otherwise vanish into its future
        log.exception("a task launch failed")


def _watch(process: TaskProcess, on_exit: Callable[[int], None]) -> None:
    code = process.popen.wait()
    process.signal(signal.SIGKILL)  # what it left running in its group
    try:
        on_exit(code)
    except Exception:  # the report must not die silently with the thread
        log.exception("could not report the exit of process %d", process.pid)


def describe_exit(code: int) -> str:
    """>>> describe_exit(0), describe_exit(3), describe_exit(-9)
    ('exited with status 0', 'exited with status 3', 'killed by signal SIGKILL')
    """
    if code >= 0:
        return f"exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = str(-code)
    return f"killed by signal {name}"


def exit_code(code: int) -> int:
    """Popen's returncode as a shell would show it: 128 + n for a death by signal n."""
    return code if code >= 0 else 128 - code
