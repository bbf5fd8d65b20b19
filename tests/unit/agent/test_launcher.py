"""Launchers: starting executors as processes or actors, watching them, finding them again."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from actors.agent.launcher import (
    PROJECT_ROOT,
    ExecutorSpec,
    InProcessLauncher,
    LaunchError,
    ProcessLauncher,
    executor_environment,
)
from actors.executor import ExecutorEnv
from messages import CommandInfo


def spec(tmp_path, command: CommandInfo, executor_id: str = "e1") -> ExecutorSpec:
    env = ExecutorEnv(broker="amqp://x/", agent_id="a1", framework_id="f1", executor_id=executor_id, sandbox=tmp_path)
    return ExecutorSpec(env, command, run_id="r1")


class Exits:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.got: list[tuple[int, str]] = []

    def __call__(self, status: int, message: str) -> None:
        self.got.append((status, message))
        self.done.set()


def _proc_view(pid: int) -> str:
    """What /proc shows of `pid` (for an assertion's message)."""
    try:
        with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/environ", "rb") as environ:
            ours = [v for v in environ.read().split(b"\0") if v.startswith(b"MESOBUS")]
            return f"{stat.read()[:80]!r} {ours}"
    except OSError as err:
        return repr(err)


def test_executor_process_exit_is_reported_with_its_status(tmp_path):
    exits = Exits()
    handle = ProcessLauncher().launch(spec(tmp_path, CommandInfo("echo started; exit 3")), exits)
    assert handle.pid > 0
    assert exits.done.wait(5) and exits.got == [(3, "exited with status 3")]
    assert (tmp_path / "stdout").read_text() == "started\n"


def test_missing_program_is_a_launch_error(tmp_path):
    with pytest.raises(LaunchError, match="cannot start executor e1"):
        ProcessLauncher().launch(spec(tmp_path, CommandInfo(shell=False, arguments=("/no/such/program",))), Exits())


def test_executor_environment_carries_its_identity_and_finds_actors(tmp_path, monkeypatch):
    monkeypatch.setenv("MESOBUS_TASK_ID", "inherited")
    env = executor_environment(spec(tmp_path, CommandInfo("x", environment={"FOO": "bar"})))
    assert env["MESOBUS_EXECUTOR_ID"] == "e1" and env["MESOBUS_SANDBOX"] == str(tmp_path)
    assert env["FOO"] == "bar" and "MESOBUS_TASK_ID" not in env
    assert env["PYTHONPATH"].split(":")[0] == str(PROJECT_ROOT)


def test_a_running_executor_is_found_again_and_its_exit_noticed(tmp_path):
    s = spec(tmp_path, CommandInfo("sleep 30"))
    process = subprocess.Popen(["sleep", "30"], env=executor_environment(s), start_new_session=True)
    try:
        # Popen may return (vfork) before the kernel has laid out the new program's
        # environment, which /proc shows empty until then: an agent recovering after a
        # restart meets long-started executors, so wait for it as that agent would.
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{process.pid}/environ").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        launcher = ProcessLauncher(kill_after=0.1, poll_interval=0.02)
        exits = Exits()
        handle = launcher.recover(s, process.pid, exits)
        assert handle is not None and handle.pid == process.pid, (handle, _proc_view(process.pid))
        launcher.kill(handle)
        process.wait(5)
        assert exits.done.wait(5), (process.returncode, exits.got)
        assert exits.got[0][0] == -1, exits.got
    finally:
        process.kill()


def test_a_pid_that_is_not_the_executor_is_not_taken_for_it(tmp_path):
    other = subprocess.Popen(["sleep", "30"])  # no MESOBUS_* variables: a reused pid
    try:
        assert ProcessLauncher().recover(spec(tmp_path, CommandInfo("x")), other.pid, Exits()) is None
    finally:
        other.kill()
        other.wait()
    assert ProcessLauncher().recover(spec(tmp_path, CommandInfo("x")), other.pid, Exits()) is None


def test_custom_executor_runs_in_process_when_its_command_names_its_class(tmp_path, transport):
    launcher = InProcessLauncher(transport)
    exits = Exits()
    command = CommandInfo("python -m actors.executor actors.executor.base:Executor")
    handle = launcher.launch(spec(tmp_path, command), exits)
    assert handle.process.is_alive()
    launcher.close()
    assert exits.done.wait(5) and exits.got == [(0, "exited")]


def test_custom_executor_without_a_known_class_cannot_run_in_process(tmp_path, transport):
    with pytest.raises(LaunchError, match="cannot run in embedded mode"):
        InProcessLauncher(transport).launch(spec(tmp_path, CommandInfo("./my-executor")), Exits())
