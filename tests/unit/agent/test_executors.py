"""The agent and its executors: status updates both ways, exits, shutdowns, idleness and
the framework <-> executor relay (the test speaks as the executor)."""

from __future__ import annotations

import pytest

from messages import (
    ExecutorToFramework,
    ExitedExecutor,
    PingAgent,
    FrameworkToExecutor,
    RegisterExecutor,
    RunTask,
    ShutdownExecutor,
    ShutdownFramework,
    StatusReason,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskOutputAck,
    TaskState,
    TaskStatus,
)
from tests.unit.agent.fakes import CMD, Cluster, FakeLauncher, Recorder, ack, command_task, run

S = TaskState


@pytest.fixture
def running(cluster, executor):
    """Task t1 launched on a registered command executor."""
    cluster.say(run(command_task("t1")))
    cluster.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    return cluster


def from_executor(cluster, task_id: str, state: TaskState, uuid: str, executor_id: str = "mesobus-command"):
    update = StatusUpdate("f1", executor_id, cluster.agent.agent_id,
                          TaskStatus(task_id, state, uuid=uuid), cluster.transport.clock.now(), uuid)
    cluster.say(update, sender=f"executor.a1.f1.{executor_id}")
    return update


def test_executor_update_reaches_the_master_and_its_ack_returns_to_the_executor(running, executor):
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    (update,) = running.master.updates("t1")
    assert (update.uuid, update.status.state, update.agent_id) == ("u1", S.TASK_RUNNING, running.agent.agent_id)
    running.say(ack(update))
    (acked,) = executor.bodies(StatusUpdateAcknowledgement)
    assert (acked.task_id, acked.uuid) == ("t1", "u1")


def test_later_updates_wait_for_the_acknowledgement_of_the_first(running):
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    from_executor(running, "t1", S.TASK_FINISHED, "u2")
    assert [u.uuid for u in running.master.updates("t1")] == ["u1"]
    running.say(ack(running.master.updates("t1")[0]))
    assert [u.uuid for u in running.master.updates("t1")] == ["u1", "u2"]


def test_resent_head_tells_the_master_the_newest_state(running, clock, transport):
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    from_executor(running, "t1", S.TASK_FAILED, "u2")
    clock.advance(10)
    transport.settle()
    resent = running.master.updates("t1")[-1]
    assert (resent.uuid, resent.status.state, resent.latest_state) == ("u1", S.TASK_RUNNING, "TASK_FAILED")


def test_unacknowledged_update_is_resent_with_doubling_backoff(running, clock, transport):
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    sent_at = {0.0}
    start = clock.now()
    for second in range(1, 151):
        clock.advance(1)
        if second % 15 == 0:
            running.say(PingAgent())  # the master is there all along
        transport.settle()
        if len(running.master.updates("t1")) > len(sent_at):
            sent_at.add(clock.now() - start)
    assert sorted(sent_at) == [0, 10, 30, 70, 150]


def test_resending_stops_once_acknowledged(running, clock, transport):
    update = from_executor(running, "t1", S.TASK_RUNNING, "u1")
    running.say(ack(running.master.updates("t1")[0]))
    clock.advance(3600)
    transport.settle()
    assert [u.uuid for u in running.master.updates("t1")] == [update.uuid]


def test_duplicate_update_is_not_forwarded_twice(running, executor):
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    assert len(running.master.updates("t1")) == 1
    running.say(ack(running.master.updates("t1")[0]))
    from_executor(running, "t1", S.TASK_RUNNING, "u1")  # already acknowledged: ack again, drop
    assert len(running.master.updates("t1")) == 1
    assert [a.uuid for a in executor.bodies(StatusUpdateAcknowledgement)] == ["u1", "u1"]


def test_update_from_a_sender_that_is_not_the_executor_is_dropped(running):
    update = StatusUpdate("f1", "mesobus-command", "", TaskStatus("t1", S.TASK_FINISHED, uuid="x"), 0.0, "x")
    running.say(update, sender="framework.f1")
    assert running.master.updates("t1") == []


def test_terminal_acknowledged_task_moves_to_completed(running):
    from_executor(running, "t1", S.TASK_FINISHED, "u1")
    running.say(ack(running.master.updates("t1")[0]))
    state = running.state()
    assert state["tasks"] == [] and state["completed_tasks"][0]["state"] == "TASK_FINISHED"


def test_executor_exit_fails_its_unfinished_tasks_and_tells_the_master(running, launcher):
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    running.say(ack(running.master.updates("t1")[0]))
    launcher.exit(launcher.launched[0], status=3, message="exited with status 3")
    running.transport.settle()
    last = running.master.updates("t1")[-1]
    assert last.status.state == S.TASK_FAILED
    assert last.status.reason == StatusReason.REASON_EXECUTOR_TERMINATED
    assert "exited with status 3" in last.status.message
    (exited,) = running.master.bodies(ExitedExecutor)
    assert (exited.framework_id, exited.executor_id, exited.status) == ("f1", "mesobus-command", 3)
    assert running.state()["executors"] == []


def test_exit_report_of_an_earlier_run_is_ignored(running, launcher, executor):
    old = launcher.launched[0]
    running.say(ShutdownExecutor("f1", "mesobus-command"))
    launcher.exit(old)
    running.transport.settle()
    running.say(run(command_task("t2")))  # a new run
    launcher.exit(old)  # reported twice by a confused launcher
    running.transport.settle()
    assert [e["run_id"] for e in running.state()["executors"]] == [launcher.launched[1].run_id]


def test_executor_that_never_registers_is_killed_and_its_tasks_fail(cluster, launcher, clock, transport):
    cluster.say(run(command_task("t1")))
    clock.advance(60)
    transport.settle()
    (update,) = cluster.master.updates("t1")
    assert update.status.state == S.TASK_FAILED
    assert update.status.reason == StatusReason.REASON_CONTAINER_LAUNCH_FAILED
    assert "did not register within 60s" in update.status.message
    assert len(launcher.killed) == 1


def test_shutdown_framework_shuts_its_executor_down_and_kills_it_after_the_grace(running, executor, launcher,
                                                                                 clock, transport):
    from_executor(running, "t1", S.TASK_RUNNING, "u1")
    running.say(ShutdownFramework("f1"))
    assert executor.bodies(ShutdownExecutor) == [ShutdownExecutor("f1", "mesobus-command")]
    assert launcher.killed == []
    clock.advance(10)
    transport.settle()
    assert len(launcher.killed) == 1
    launcher.exit(launcher.launched[0], status=-9, message="killed by signal SIGKILL")
    transport.settle()
    state = running.state()
    assert [(t["id"], t["state"]) for t in state["completed_tasks"]] == [("t1", "TASK_KILLED")]  # not failed
    # The framework is gone: no acknowledgement will come, so its updates are dropped.
    assert state["frameworks"] == [] and state["executors"] == [] and state["tasks"] == []
    assert state["pending_status_updates"] == 0


def test_idle_command_executor_is_shut_down(running, executor, clock, transport):
    from_executor(running, "t1", S.TASK_FINISHED, "u1")
    running.say(ack(running.master.updates("t1")[0]))
    clock.advance(4)
    transport.settle()
    assert executor.bodies(ShutdownExecutor) == []
    clock.advance(1.5)
    transport.settle()
    assert executor.bodies(ShutdownExecutor) == [ShutdownExecutor("f1", "mesobus-command")]


def test_new_task_keeps_the_command_executor_from_going_idle(running, executor, clock, transport):
    from_executor(running, "t1", S.TASK_FINISHED, "u1")
    running.say(ack(running.master.updates("t1")[0]))
    clock.advance(3)
    running.say(run(command_task("t2")))
    clock.advance(10)
    transport.settle()
    assert executor.bodies(ShutdownExecutor) == []


def test_task_arriving_while_the_executor_shuts_down_gets_a_new_run(running, executor, launcher, transport):
    from_executor(running, "t1", S.TASK_FINISHED, "u1")
    running.say(ack(running.master.updates("t1")[0]))
    running.say(ShutdownExecutor("f1", "mesobus-command"))
    running.say(run(command_task("t2")))
    assert len(launcher.launched) == 1
    launcher.exit(launcher.launched[0])
    transport.settle()
    assert len(launcher.launched) == 2
    assert running.master.states("t2") == []  # not failed: it waits for the new run
    running.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    assert [m.task.task_id for m in executor.bodies(RunTask)] == ["t1", "t2"]


def test_framework_message_is_relayed_to_the_executor(running, executor):
    msg = FrameworkToExecutor("f1", "mesobus-command", running.agent.agent_id, b"hello")
    running.say(msg)
    assert executor.bodies(FrameworkToExecutor) == [msg]


def test_output_acknowledgement_relayed_by_the_master_goes_on_to_the_executor(running, executor):
    msg = TaskOutputAck("f1", "t1", "stdout", 4096, "mesobus-command")
    running.say(msg)
    running.say(TaskOutputAck("f1", "t1", "stdout", 8192, "mesobus-command"), sender=CMD)  # only from the master
    running.say(TaskOutputAck("f1", "t1", "stdout", 8192, "other"))  # no such executor
    assert executor.bodies(TaskOutputAck) == [msg]
    assert running.agent.counters["output_acks_dropped"] == 2


def test_executor_message_is_relayed_to_the_master(running):
    running.say(ExecutorToFramework("f1", "mesobus-command", "", b"hi there"), sender=CMD)
    (msg,) = running.master.bodies(ExecutorToFramework)
    assert (msg.data, msg.agent_id) == (b"hi there", running.agent.agent_id)


def test_register_executor_from_an_unknown_executor_is_told_to_shut_down(cluster, transport):
    rec = Recorder.start("executor.a1.f9.stray", transport)
    try:
        cluster.say(RegisterExecutor("f9", "stray"), sender="executor.a1.f9.stray")
        assert rec._actor_weakref().bodies(ShutdownExecutor) == [ShutdownExecutor("f9", "stray")]
    finally:
        rec.stop()


def test_task_for_a_framework_being_shut_down_is_lost(running, executor):
    running.say(ShutdownFramework("f1"))
    running.say(run(command_task("t2")))
    last = running.master.updates("t2")[-1]
    assert last.status.state == S.TASK_LOST and last.status.reason == StatusReason.REASON_FRAMEWORK_REMOVED
    assert [m.task.task_id for m in executor.bodies(RunTask)] == ["t1"]


def test_executor_that_dies_before_registering_fails_its_tasks_without_relaunching(cluster, launcher):
    cluster.say(run(command_task("t1")))
    launcher.exit(launcher.launched[0], status=1, message="exited with status 1")
    cluster.transport.settle()
    (update,) = cluster.master.updates("t1")
    assert update.status.state == S.TASK_FAILED
    assert update.status.reason == StatusReason.REASON_CONTAINER_LAUNCH_FAILED
    assert "exited with status 1 before it registered" in update.status.message
    assert len(launcher.launched) == 1


def test_executors_are_told_how_long_to_outlive_a_silent_agent(transport, tmp_path, executor):
    launcher = FakeLauncher()
    c = Cluster(transport, tmp_path / "work", launcher, executor_recovery_timeout=120.0)
    c.say(run(command_task("t1")))
    (spec,) = launcher.launched
    assert spec.env.recovery_timeout == 120.0 and spec.env.to_environ()["MESOBUS_RECOVERY_TIMEOUT"] == "120.0"
    c.stop()
