"""Agent recovery: after a restart the agent finds its executors again (or declares them
gone) before it re-registers with the master."""

from __future__ import annotations

from actors.executor.wire import encode_update
from messages import (
    ExecutorReregistered,
    ExitedExecutor,
    ReconnectExecutor,
    RegisterExecutor,
    ReregisterAgent,
    ReregisterExecutor,
    RunTask,
    StatusReason,
    StatusUpdate,
    TaskState,
    TaskStatus,
)
from tests.unit.agent.fakes import CMD, Cluster, FakeLauncher, command_task, run

S = TaskState


def started(transport, tmp_path, alive: bool) -> Cluster:
    """An agent that ran t1 on a registered command executor, then restarted."""
    c = Cluster(transport, tmp_path / "work", FakeLauncher(alive_on_recover=alive))
    c.say(run(command_task("t1")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    c.restart()
    return c


def test_restarted_agent_asks_its_executors_to_reconnect_before_reregistering(transport, tmp_path, executor):
    c = started(transport, tmp_path, alive=True)
    try:
        assert executor.bodies(ReconnectExecutor) == [ReconnectExecutor(c.agent.agent_id)]
        assert c.master.bodies(ReregisterAgent) == []
        assert c.state()["recovering"] is True
        c.say(ReregisterExecutor("f1", "mesobus-command", tasks=(command_task("t1"),)), sender=CMD)
        assert len(executor.bodies(ExecutorReregistered)) == 1
        (again,) = c.master.bodies(ReregisterAgent)
        assert [t.task_id for t in again.tasks] == ["t1"]
        assert [e.executor_id for e in again.executors] == ["mesobus-command"]
    finally:
        c.stop()


def test_updates_an_executor_kept_during_the_restart_reach_the_master(transport, tmp_path, executor):
    c = started(transport, tmp_path, alive=True)
    try:
        kept = StatusUpdate("f1", "mesobus-command", c.agent.agent_id,
                            TaskStatus("t1", S.TASK_RUNNING, uuid="u1"), 0.0, "u1")
        c.say(ReregisterExecutor("f1", "mesobus-command", tasks=(command_task("t1"),),
                                 updates=(encode_update(kept), b"garbage")), sender=CMD)
        assert [(u.uuid, u.status.state) for u in c.master.updates("t1")] == [("u1", S.TASK_RUNNING)]
    finally:
        c.stop()


def test_task_the_executor_never_got_is_sent_again(transport, tmp_path, executor):
    c = Cluster(transport, tmp_path / "work", FakeLauncher(alive_on_recover=True))
    try:
        c.say(run(command_task("t1")))  # queued: the executor has not registered
        c.restart()
        c.say(ReregisterExecutor("f1", "mesobus-command", tasks=()), sender=CMD)
        assert [m.task.task_id for m in executor.bodies(RunTask)] == ["t1"]
    finally:
        c.stop()


def test_executor_that_does_not_answer_within_5s_is_gone(transport, clock, tmp_path, executor):
    c = started(transport, tmp_path, alive=True)
    try:
        clock.advance(5)
        transport.settle()
        (update,) = c.master.updates("t1")
        assert update.status.state == S.TASK_FAILED
        assert update.status.reason == StatusReason.REASON_EXECUTOR_TERMINATED
        assert "did not re-register within 5s" in update.status.message
        assert len(c.master.bodies(ReregisterAgent)) == 1
        assert len(c.master.bodies(ExitedExecutor)) == 1
        assert len(c.launcher.killed) == 1
    finally:
        c.stop()


def test_executor_already_dead_at_restart_fails_its_tasks_at_once(transport, tmp_path, executor):
    c = started(transport, tmp_path, alive=False)
    try:
        assert c.master.states("t1") == [S.TASK_FAILED]
        (again,) = c.master.bodies(ReregisterAgent)
        assert [(t.task_id, t.state) for t in again.tasks] == [("t1", S.TASK_FAILED)]
        assert c.state()["executors"] == []
    finally:
        c.stop()


def test_second_restart_remembers_the_executor_is_gone(transport, tmp_path, executor):
    c = started(transport, tmp_path, alive=False)
    try:
        c.restart()
        assert c.state()["executors"] == []
        assert [t["state"] for t in c.state()["tasks"]] == ["TASK_FAILED"]
    finally:
        c.stop()
