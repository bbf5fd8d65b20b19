"""The Executor base class: registration, callbacks, status updates and re-registration."""

from __future__ import annotations

import pytest

from actors.executor import Executor
from actors.executor.wire import decode_update
from messages import (
    ExecutorReregistered,
    ExecutorToFramework,
    FrameworkToExecutor,
    KillTask,
    ReconnectExecutor,
    RegisterExecutor,
    ReregisterExecutor,
    ShutdownExecutor,
    TaskState,
)
from tests.unit.executor.fakes import AGENT_INFO, ack, env, registered, run, say, task

ADDRESS = "executor.a1.f1.e1"


class Recording(Executor):
    """Records its callbacks; runs tasks by reporting them RUNNING."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple] = []

    def registered(self, executor_info, framework_info, agent_info):
        self.calls.append(("registered", executor_info.executor_id, framework_info.framework_id, agent_info.agent_id))

    def reregistered(self, agent_info):
        self.calls.append(("reregistered", agent_info.agent_id))

    def disconnected(self):
        self.calls.append(("disconnected",))

    def launch_task(self, task):
        self.calls.append(("launch_task", task.task_id))
        self.update(task.task_id, TaskState.TASK_RUNNING)

    def kill_task(self, task_id):
        self.calls.append(("kill_task", task_id))

    def framework_message(self, data):
        self.calls.append(("framework_message", data))
        self.send_framework_message(b"echo:" + data)


@pytest.fixture
def executor(transport, tmp_path, agent):
    ref = Recording.start(env(tmp_path, "e1"), transport)
    ref.proxy().address.get()
    transport.settle()
    yield ref._actor_weakref()
    if ref.is_alive():
        ref.stop()


def test_executor_registers_with_its_agent(executor, agent):
    assert agent.bodies(RegisterExecutor) == [RegisterExecutor("f1", "e1")]
    assert agent.received[0].sender == ADDRESS


def test_registration_is_retried_until_answered(executor, agent, clock, transport):
    clock.advance(1)
    transport.settle()
    clock.advance(2)
    transport.settle()
    assert len(agent.bodies(RegisterExecutor)) == 3
    say(transport, ADDRESS, registered("e1"))
    clock.advance(60)
    transport.settle()
    assert len(agent.bodies(RegisterExecutor)) == 3


def test_registered_callback_gets_who_it_works_for(executor, transport):
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, registered("e1"))  # the answer to a retry
    assert executor.calls == [("registered", "e1", "f1", "a1")]


def test_messages_before_registration_are_ignored_as_leftovers(executor, transport):
    say(transport, ADDRESS, run(task("old")))
    say(transport, ADDRESS, ShutdownExecutor("f1", "e1"))
    assert executor.calls == [] and executor.actor_ref.is_alive()
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, run(task("t1")))
    assert executor.calls[-1] == ("launch_task", "t1")


def test_each_update_has_a_fresh_uuid_and_is_kept_until_acknowledged(executor, agent, transport):
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, run(task("t2")))
    u1, u2 = agent.updates("t1")[0], agent.updates("t2")[0]
    assert u1.uuid and u2.uuid and u1.uuid != u2.uuid
    assert u1.status.uuid == u1.uuid and u1.status.executor_id == "e1" and u1.agent_id == "a1"
    say(transport, ADDRESS, ack(u1))
    assert list(executor.unacknowledged) == [u2.uuid]


def test_a_task_is_launched_once_even_if_sent_twice(executor, transport):
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, run(task("t1")))
    assert executor.calls.count(("launch_task", "t1")) == 1


def test_kill_and_framework_messages_reach_the_callbacks(executor, agent, transport):
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, KillTask("f1", "t9"))
    say(transport, ADDRESS, FrameworkToExecutor("f1", "e1", "a1", b"ping"))
    assert executor.calls[1:] == [("kill_task", "t9"), ("framework_message", b"ping")]
    (reply,) = agent.bodies(ExecutorToFramework)
    assert (reply.data, reply.executor_id) == (b"echo:ping", "e1")


def test_reconnect_after_an_agent_restart_resends_unacknowledged_updates(executor, agent, transport):
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, run(task("t1")))
    (update,) = agent.updates("t1")
    say(transport, ADDRESS, ReconnectExecutor("a1"))
    (rereg,) = agent.bodies(ReregisterExecutor)
    assert [t.task_id for t in rereg.tasks] == ["t1"]
    assert [decode_update(u) for u in rereg.updates] == [update]
    say(transport, ADDRESS, ExecutorReregistered(AGENT_INFO))
    assert executor.calls[-2:] == [("disconnected",), ("reregistered", "a1")]


def test_reconnect_from_another_agent_is_an_error_not_a_reregistration(executor, agent, transport):
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, ReconnectExecutor("a2"))
    assert agent.bodies(ReregisterExecutor) == []


def test_default_shutdown_reports_tasks_killed_and_exits(executor, agent, transport):
    say(transport, ADDRESS, registered("e1"))
    say(transport, ADDRESS, run(task("t1")))
    say(transport, ADDRESS, ShutdownExecutor("f1", "e1"))
    assert agent.states("t1") == [TaskState.TASK_RUNNING, TaskState.TASK_KILLED]
    executor.actor_ref.actor_stopped.wait(2)
    assert not executor.actor_ref.is_alive()
