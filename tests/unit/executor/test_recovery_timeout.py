"""An executor outlives its agent's restarts, not its agent: when nothing has come from the
agent for MESOBUS_RECOVERY_TIMEOUT seconds (it does not even answer PingAgent), the
executor kills its tasks and exits; a live agent with nothing to say answers the pings and
keeps it; a restarted agent's ReconnectExecutor starts the count again."""

from __future__ import annotations

import signal

import pytest

from actors.executor import CommandExecutor, Executor, ExecutorEnv, ExecutorEnvError
from actors.executor.limits import NoLimits
from messages import (
    PingAgent,
    PongAgent,
    ReconnectExecutor,
    ReregisterExecutor,
    TaskProcessExited,
    TaskState,
)
from tests.unit.executor.fakes import FakeRunner, env, registered, run, say, task

ADDRESS = "executor.a1.f1.mesobus-command"
S = TaskState
RECOVERY = 900.0  # the default: 15 minutes; checks come every 60 s


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


def start(transport, tmp_path, runner, *, register: bool = True, **settings) -> CommandExecutor:
    settings = {"idle_timeout": 30.0, "recovery_timeout": RECOVERY, **settings}
    ref = CommandExecutor.start(env(tmp_path, **settings), transport, runner=runner, limits=NoLimits())
    ref.proxy().address.get()
    if register:
        say(transport, ADDRESS, registered())
    return ref._actor_weakref()


@pytest.fixture
def executor(transport, tmp_path, agent, runner):
    ex = start(transport, tmp_path, runner)
    yield ex
    if ex.actor_ref.is_alive():
        ex.actor_ref.stop()


def wait(clock, transport, seconds: float, step: float = 60.0) -> None:
    """Let `seconds` pass, `step` at a time, handling what comes due on the way."""
    while seconds > 0:
        clock.advance(min(step, seconds))
        transport.settle()
        seconds -= step


def stopped(ex) -> bool:
    ex.actor_ref.actor_stopped.wait(2)
    return not ex.actor_ref.is_alive()


def test_an_executor_whose_agent_is_gone_kills_its_tasks_and_exits(executor, agent, runner, clock, transport):
    say(transport, ADDRESS, run(task("t1")))
    wait(clock, transport, RECOVERY - 60)
    assert runner.started["t1"].signals == [] and executor.actor_ref.is_alive()
    assert agent.bodies(PingAgent), "a silent agent is asked whether it is there"
    wait(clock, transport, 60)
    assert runner.started["t1"].signals == [signal.SIGTERM]
    say(transport, ADDRESS, TaskProcessExited("t1", -signal.SIGTERM), sender=ADDRESS)
    assert stopped(executor)
    assert agent.states("t1")[-2:] == [S.TASK_KILLING, S.TASK_KILLED]


def test_a_task_that_ignores_sigterm_is_killed_and_the_executor_exits_a_check_later(
    executor, runner, clock, transport
):
    say(transport, ADDRESS, run(task("t1")))
    wait(clock, transport, RECOVERY)
    assert executor.actor_ref.is_alive()  # waiting for its task to end
    wait(clock, transport, 60)
    assert stopped(executor)
    assert runner.started["t1"].signals[-1] == signal.SIGKILL


def test_a_live_agent_with_nothing_to_say_keeps_its_executor(executor, agent, runner, clock, transport):
    agent.answers_pings = True
    say(transport, ADDRESS, run(task("t1")))  # a long-running task: nothing to tell for hours
    wait(clock, transport, 4 * RECOVERY)
    assert executor.actor_ref.is_alive() and runner.started["t1"].signals == []
    pings = agent.bodies(PingAgent)
    assert 40 <= len(pings) <= 60  # about one a minute, only while nothing else comes


def test_a_restarted_agents_reconnect_starts_the_count_again(executor, agent, runner, clock, transport):
    say(transport, ADDRESS, run(task("t1")))
    wait(clock, transport, RECOVERY - 60)
    say(transport, ADDRESS, ReconnectExecutor("a1"))
    assert agent.bodies(ReregisterExecutor)
    wait(clock, transport, RECOVERY - 60)
    assert executor.actor_ref.is_alive() and runner.started["t1"].signals == []
    wait(clock, transport, 60)
    assert runner.started["t1"].signals == [signal.SIGTERM]


def test_unacknowledged_updates_do_not_keep_an_orphan_alive(executor, agent, clock, transport):
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, TaskProcessExited("t1", 0), sender=ADDRESS)
    assert agent.states("t1")[-1] == S.TASK_FINISHED  # never acknowledged: its agent died
    wait(clock, transport, RECOVERY - 60)
    assert executor.actor_ref.is_alive()  # the idle guard waits for acknowledgements
    wait(clock, transport, 60)
    assert stopped(executor)


def test_an_executor_its_agent_never_answered_exits_after_its_idle_timeout(transport, tmp_path, agent, runner, clock):
    ex = start(transport, tmp_path, runner, register=False)
    wait(clock, transport, 29, step=1)
    assert ex.actor_ref.is_alive()
    wait(clock, transport, 1, step=1)
    assert stopped(ex)


def test_recovery_timeout_zero_never_gives_up(transport, tmp_path, agent, runner, clock):
    ex = start(transport, tmp_path, runner, recovery_timeout=0.0)
    say(transport, ADDRESS, run(task("t1")))
    wait(clock, transport, 10 * RECOVERY, step=600)
    assert ex.actor_ref.is_alive() and runner.started["t1"].signals == [] and agent.bodies(PingAgent) == []
    ex.actor_ref.stop()


class Stubborn(Executor):
    """A custom executor whose shutdown() never exits."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1


def test_a_custom_executor_is_told_to_shut_down_then_stopped(transport, tmp_path, agent, clock):
    ref = Stubborn.start(env(tmp_path, "e1", recovery_timeout=120.0), transport)
    say(transport, "executor.a1.f1.e1", registered("e1"))
    ex = ref._actor_weakref()
    wait(clock, transport, 90, step=30)  # checks every 30 s (a quarter of the timeout)
    assert ex.shutdowns == 0
    wait(clock, transport, 30, step=30)
    assert ex.shutdowns == 1 and ref.is_alive()
    wait(clock, transport, 30, step=30)
    assert stopped(ex)


def test_any_message_from_the_agent_counts_as_word_from_it(executor, runner, clock, transport):
    say(transport, ADDRESS, run(task("t1")))
    for _ in range(3):
        wait(clock, transport, RECOVERY / 2)
        say(transport, ADDRESS, PongAgent("a1"))  # e.g. the answer to an earlier ping
    assert executor.actor_ref.is_alive() and runner.started["t1"].signals == []


def test_the_recovery_timeout_comes_from_the_environment(tmp_path):
    base = env(tmp_path).to_environ()
    assert base["MESOBUS_RECOVERY_TIMEOUT"] == "120.0"  # far less than Mesos' 15 min
    assert ExecutorEnv.from_environ({**base, "MESOBUS_RECOVERY_TIMEOUT": "60"}).recovery_timeout == 60.0
    missing = {k: v for k, v in base.items() if k != "MESOBUS_RECOVERY_TIMEOUT"}
    assert ExecutorEnv.from_environ(missing).recovery_timeout == 120.0
    with pytest.raises(ExecutorEnvError, match="MESOBUS_RECOVERY_TIMEOUT='soon' is not a number"):
        ExecutorEnv.from_environ({**base, "MESOBUS_RECOVERY_TIMEOUT": "soon"})
