"""The command executor with a process runner that starts nothing: task states, exit
codes, kills with a grace period, shutdown and idleness."""

from __future__ import annotations

import signal

import pytest

from actors.executor import CommandExecutor
from actors.executor.limits import NoLimits, RlimitLimits
from messages import (
    CommandInfo,
    KillTask,
    Resources,
    ShutdownExecutor,
    StatusReason,
    TaskInfo,
    TaskProcessExited,
    TaskState,
)
from tests.unit.executor.fakes import FakeRunner, ack, env, registered, run, say, task

ADDRESS = "executor.a1.f1.mesobus-command"
S = TaskState


@pytest.fixture
def runner():
    return FakeRunner()


@pytest.fixture
def executor(transport, tmp_path, agent, runner):
    ref = CommandExecutor.start(env(tmp_path, idle_timeout=30.0), transport, runner=runner, limits=NoLimits())
    ref.proxy().address.get()
    say(transport, ADDRESS, registered())
    yield ref._actor_weakref()
    if ref.is_alive():
        ref.stop()


def exited(transport, task_id: str, code: int) -> None:
    say(transport, ADDRESS, TaskProcessExited(task_id, code), sender=ADDRESS)


def test_task_goes_starting_running_finished(executor, agent, runner, transport, tmp_path):
    say(transport, ADDRESS, run(task("t1", "echo hi")))
    assert runner.argvs["t1"] == ["sh", "-c", "echo hi"]
    assert (tmp_path / "tasks" / "t1" / "stdout").exists()
    exited(transport, "t1", 0)
    assert agent.states("t1") == [S.TASK_STARTING, S.TASK_RUNNING, S.TASK_FINISHED]
    assert agent.updates("t1")[-1].status.exit_code == 0
    assert transport.dead_letters == []  # the launch handler ran to its end (health checks armed)


def test_task_environment_names_the_task_and_its_sandbox(executor, runner, transport, tmp_path):
    info = TaskInfo("t1", "t1", "a1", Resources.parse("cpus:1"), command=CommandInfo("env", environment={"GREETING": "hi"}))
    say(transport, ADDRESS, run(info))
    env = runner.envs["t1"]
    assert env["GREETING"] == "hi" and env["MESOBUS_TASK_ID"] == "t1"
    assert env["MESOBUS_SANDBOX"] == str(tmp_path / "tasks" / "t1")
    assert "MESOBUS_BROKER" not in env


def test_nonzero_exit_is_a_failure_with_its_exit_code(executor, agent, transport):
    say(transport, ADDRESS, run(task("t1", "exit 3")))
    exited(transport, "t1", 3)
    last = agent.updates("t1")[-1]
    assert (last.status.state, last.status.exit_code, last.status.message) == (S.TASK_FAILED, 3, "exited with status 3")


def test_death_by_signal_is_reported_as_such(executor, agent, transport):
    say(transport, ADDRESS, run(task("t1")))
    exited(transport, "t1", -signal.SIGSEGV)
    last = agent.updates("t1")[-1]
    assert last.status.state == S.TASK_FAILED and last.status.exit_code == 128 + signal.SIGSEGV
    assert last.status.message == "killed by signal SIGSEGV"


def test_process_that_cannot_start_fails_the_task(executor, agent, runner, transport):
    runner.fail_with = FileNotFoundError(2, "No such file or directory", "sh")
    say(transport, ADDRESS, run(task("t1")))
    last = agent.updates("t1")[-1]
    assert last.status.state == S.TASK_FAILED
    assert last.status.reason == StatusReason.REASON_CONTAINER_LAUNCH_FAILED


def test_kill_sends_sigterm_then_sigkill_after_the_grace_period(executor, agent, runner, clock, transport):
    say(transport, ADDRESS, run(task("t1", "sleep 30")))
    say(transport, ADDRESS, KillTask("f1", "t1"))
    assert runner.started["t1"].signals == [signal.SIGTERM]
    assert agent.states("t1")[-1] == S.TASK_KILLING
    clock.advance(2.9)
    transport.settle()
    assert runner.started["t1"].signals == [signal.SIGTERM]
    clock.advance(0.1)
    transport.settle()
    assert runner.started["t1"].signals == [signal.SIGTERM, signal.SIGKILL]
    exited(transport, "t1", -9)
    assert agent.states("t1")[-2:] == [S.TASK_KILLING, S.TASK_KILLED]


def test_kill_grace_period_comes_from_the_kill_then_the_task(executor, runner, clock, transport):
    say(transport, ADDRESS, run(task("t1", kill_grace_period=10.0)))
    say(transport, ADDRESS, run(task("t2", kill_grace_period=10.0)))
    say(transport, ADDRESS, KillTask("f1", "t1"))
    say(transport, ADDRESS, KillTask("f1", "t2", grace_period=1.0))
    clock.advance(1)
    transport.settle()
    assert runner.started["t1"].signals == [signal.SIGTERM]
    assert runner.started["t2"].signals == [signal.SIGTERM, signal.SIGKILL]
    clock.advance(9)
    transport.settle()
    assert runner.started["t1"].signals == [signal.SIGTERM, signal.SIGKILL]


def test_launches_do_not_wait_for_each_other_on_the_executors_thread(executor, agent, runner, transport):
    runner.hold_launches()  # both launches are under way on launch threads
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, run(task("t2")))
    assert agent.states("t1") == agent.states("t2") == [S.TASK_STARTING]  # handled; not started yet
    runner.release_launches()
    transport.settle()
    assert agent.states("t1") == agent.states("t2") == [S.TASK_STARTING, S.TASK_RUNNING]
    assert agent.updates("t2")[-1].status.message == f"pid {runner.started['t2'].pid}"


def test_task_killed_while_it_starts_is_terminated_once_started_and_never_running(
        executor, agent, runner, clock, transport):
    runner.hold_launches()
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, KillTask("f1", "t1", grace_period=2.0))
    assert agent.states("t1") == [S.TASK_STARTING, S.TASK_KILLING]
    runner.release_launches()
    transport.settle()
    assert runner.started["t1"].signals == [signal.SIGTERM]  # with the kill's grace period
    clock.advance(2)
    transport.settle()
    assert runner.started["t1"].signals == [signal.SIGTERM, signal.SIGKILL]
    exited(transport, "t1", -9)
    assert agent.states("t1") == [S.TASK_STARTING, S.TASK_KILLING, S.TASK_KILLED]


def test_shutdown_while_a_task_starts_waits_for_its_process_and_kills_it(executor, agent, runner, transport):
    runner.hold_launches()
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, ShutdownExecutor("f1", "mesobus-command"))
    assert executor.actor_ref.is_alive()  # its process is being started: not left behind
    runner.release_launches()
    transport.settle()
    assert runner.started["t1"].signals[0] == signal.SIGTERM
    exited(transport, "t1", -signal.SIGTERM)
    assert agent.states("t1") == [S.TASK_STARTING, S.TASK_KILLING, S.TASK_KILLED]
    executor.actor_ref.actor_stopped.wait(2)
    assert not executor.actor_ref.is_alive()


def test_task_that_ends_on_sigterm_is_not_sigkilled(executor, agent, runner, clock, transport):
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, KillTask("f1", "t1"))
    exited(transport, "t1", -signal.SIGTERM)
    clock.advance(10)
    transport.settle()
    assert runner.started["t1"].signals == [signal.SIGTERM]
    assert agent.states("t1")[-1] == S.TASK_KILLED


def test_memory_failure_is_reported_as_a_container_limitation(transport, tmp_path, agent, runner):
    ref = CommandExecutor.start(env(tmp_path), transport, runner=runner, limits=RlimitLimits())
    try:
        say(transport, ADDRESS, registered())
        say(transport, ADDRESS, run(task("t1", "python3 -c 'x = bytearray(10**10)'", mem=64)))
        assert runner.argvs["t1"][:3] == ["sh", "-c", 'ulimit -v 65536 && exec "$@"']
        (tmp_path / "tasks" / "t1" / "stderr").write_text("Traceback...\nMemoryError\n")
        exited(transport, "t1", 1)
        last = agent.updates("t1")[-1]
        assert last.status.state == S.TASK_FAILED
        assert last.status.reason == StatusReason.REASON_CONTAINER_LIMITATION_MEMORY
        assert "memory limit of 64 MB" in last.status.message
    finally:
        ref.stop()


def test_shutdown_kills_every_task_and_exits_when_they_are_gone(executor, agent, runner, transport):
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, run(task("t2")))
    say(transport, ADDRESS, ShutdownExecutor("f1", "mesobus-command"))
    assert runner.started["t1"].signals == [signal.SIGTERM] == runner.started["t2"].signals
    exited(transport, "t1", -15)
    assert executor.actor_ref.is_alive()
    exited(transport, "t2", -15)
    executor.actor_ref.actor_stopped.wait(2)
    assert not executor.actor_ref.is_alive()
    assert agent.states("t1")[-1] == agent.states("t2")[-1] == S.TASK_KILLED


def test_idle_executor_exits_once_everything_is_acknowledged(executor, agent, transport, clock):
    say(transport, ADDRESS, run(task("t1")))
    exited(transport, "t1", 0)
    clock.advance(60)
    transport.settle()
    assert executor.actor_ref.is_alive()  # updates not acknowledged yet
    for update in agent.updates("t1"):
        say(transport, ADDRESS, ack(update))
    clock.advance(29)
    transport.settle()
    assert executor.actor_ref.is_alive()
    clock.advance(1)
    transport.settle()
    executor.actor_ref.actor_stopped.wait(2)
    assert not executor.actor_ref.is_alive()


def test_task_that_is_not_a_command_is_refused(executor, agent, transport):
    from tests.unit.agent.fakes import executor_task

    say(transport, ADDRESS, run(executor_task("t1")))
    assert agent.states("t1") == [S.TASK_ERROR]
