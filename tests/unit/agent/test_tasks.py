"""RunTask and KillTask on the agent, with a launcher that starts nothing (the test
speaks as the executor)."""

from __future__ import annotations

import pytest

from actors.agent.launcher import NoopLauncher
from messages import (
    CommandInfo,
    ExecutorRegistered,
    FrameworkInfo,
    KillTask,
    RegisterExecutor,
    Resources,
    RunTask,
    StatusReason,
    StatusSource,
    TaskInfo,
    TaskState,
)
from tests.unit.agent.fakes import CMD, FRAMEWORK, Cluster, Recorder, command_task, executor_task, run


def register(cluster, address: str = CMD) -> None:
    _, _, fid, eid = address.split(".", 3)
    cluster.say(RegisterExecutor(fid, eid), sender=address)


def test_command_task_launches_the_command_executor_in_a_sandbox(cluster, launcher):
    cluster.say(run(command_task("t1")))
    (spec,) = launcher.launched
    assert (spec.env.framework_id, spec.env.executor_id) == ("f1", "mesobus-command")
    assert spec.env.agent_id == cluster.agent.agent_id
    assert spec.env.sandbox.is_dir() and (spec.env.sandbox / "stdout").exists()
    assert spec.env.sandbox.is_relative_to(cluster.work_dir / "frameworks" / "f1" / "executors")
    (task,) = cluster.state()["tasks"]
    assert task["state"] == "TASK_STAGING"
    assert task["sandbox"] == str(spec.env.sandbox / "tasks" / "t1")


def test_tasks_wait_until_the_executor_registers(cluster, executor):
    cluster.say(run(command_task("t1")))
    cluster.say(run(command_task("t2")))
    assert executor.received == []
    register(cluster)
    kinds = [type(e.body).__name__ for e in executor.received]
    assert kinds == ["ExecutorRegistered", "RunTask", "RunTask"]
    assert [m.task.task_id for m in executor.bodies(RunTask)] == ["t1", "t2"]
    (registered,) = executor.bodies(ExecutorRegistered)
    assert registered.agent.agent_id == cluster.agent.agent_id
    assert registered.framework == FRAMEWORK


def test_later_tasks_go_straight_to_the_registered_executor(cluster, executor, launcher):
    cluster.say(run(command_task("t1")))
    register(cluster)
    cluster.say(run(command_task("t2")))
    assert len(launcher.launched) == 1
    assert [m.task.task_id for m in executor.bodies(RunTask)] == ["t1", "t2"]


def test_repeated_register_executor_is_answered_without_resending_tasks(cluster, executor):
    cluster.say(run(command_task("t1")))
    register(cluster)
    register(cluster)
    assert len(executor.bodies(ExecutorRegistered)) == 2
    assert len(executor.bodies(RunTask)) == 1


def test_redelivered_run_task_is_launched_once(cluster, executor):
    register_later = run(command_task("t1"))
    cluster.say(register_later)
    cluster.say(register_later)
    register(cluster)
    assert len(executor.bodies(RunTask)) == 1
    assert cluster.master.states("t1") == []


@pytest.mark.parametrize(
    "task, words",
    [
        (command_task("t/1"), "must not contain '/'"),
        (command_task("t1", agent_id="other-agent"), "is for agent other-agent"),
        (TaskInfo("t1", "big", "", Resources.parse("cpus:64"), command=CommandInfo("true")), "needs cpus:64"),
        (executor_task("t1", executor_id="mesobus-command"), "reserved"),
    ],
)
def test_invalid_task_gets_task_error_naming_the_problem(cluster, launcher, task, words):
    cluster.say(run(task))
    (update,) = cluster.master.updates(task.task_id)
    assert update.status.state == TaskState.TASK_ERROR
    assert update.status.reason == StatusReason.REASON_TASK_INVALID
    assert update.status.source == StatusSource.SOURCE_AGENT
    assert words in update.status.message
    assert launcher.launched == []


def test_a_task_whose_executor_address_would_pass_the_queue_name_limit_is_refused_before_any_work(cluster, launcher):
    # each id within its own 120 bytes; together (executor.<agent>.<framework>.<executor>)
    # past the 247 bytes a mailbox's address may have under AMQP's 255-byte queue names
    framework = FrameworkInfo(user=FRAMEWORK.user, name="long", framework_id="f" * 120)
    cluster.say(run(executor_task("t1", executor_id="e" * 120), framework))
    (update,) = cluster.master.updates("t1")
    assert (update.status.state, update.status.reason) == (TaskState.TASK_ERROR, StatusReason.REASON_TASK_INVALID)
    assert "executor's address" in update.status.message and "255 bytes" in update.status.message
    assert launcher.launched == []
    assert not (cluster.work_dir / "frameworks" / ("f" * 120)).exists()


def test_task_is_failed_when_its_executor_cannot_be_launched(cluster, launcher):
    launcher.fail_with = "no such program"
    cluster.say(run(command_task("t1")))
    (update,) = cluster.master.updates("t1")
    assert update.status.state == TaskState.TASK_FAILED
    assert update.status.reason == StatusReason.REASON_CONTAINER_LAUNCH_FAILED
    assert "no such program" in update.status.message


def test_task_for_an_executor_that_is_not_running_is_lost_when_launch_is_not_allowed(cluster, launcher):
    cluster.say(RunTask(FRAMEWORK, command_task("t1"), launch_executor=False))
    assert cluster.master.states("t1") == [TaskState.TASK_LOST]
    assert launcher.launched == []


def test_killing_a_queued_task_reports_it_killed_and_never_launches_it(cluster, executor):
    cluster.say(run(command_task("t1")))
    cluster.say(KillTask("f1", "t1"))
    (update,) = cluster.master.updates("t1")
    assert update.status.state == TaskState.TASK_KILLED
    assert update.status.reason == StatusReason.REASON_TASK_KILLED_DURING_LAUNCH
    register(cluster)
    assert executor.bodies(RunTask) == []


def test_kill_of_a_launched_task_goes_to_its_executor(cluster, executor):
    cluster.say(run(command_task("t1")))
    register(cluster)
    cluster.say(KillTask("f1", "t1", grace_period=7.0))
    (kill,) = executor.bodies(KillTask)
    assert (kill.task_id, kill.grace_period) == ("t1", 7.0)
    assert cluster.master.states("t1") == []  # the executor reports it


def test_kill_of_an_unknown_task_reports_it_lost(cluster):
    cluster.say(KillTask("f1", "ghost"))
    (update,) = cluster.master.updates("ghost")
    assert update.status.state == TaskState.TASK_LOST
    assert update.status.reason == StatusReason.REASON_TASK_UNKNOWN


def test_custom_executor_task_starts_that_executor_with_its_command(cluster, launcher, transport):
    rec = Recorder.start("executor.a1.f1.e1", transport)
    try:
        cluster.say(run(executor_task("t1", "e1", command="my-executor --fast")))
        (spec,) = launcher.launched
        assert spec.env.executor_id == "e1" and spec.command.value == "my-executor --fast"
        register(cluster, "executor.a1.f1.e1")
        assert [m.task.task_id for m in rec._actor_weakref().bodies(RunTask)] == ["t1"]
        (task,) = cluster.state()["tasks"]
        assert task["sandbox"] == str(spec.env.sandbox)
    finally:
        rec.stop()


def test_same_executor_id_with_another_command_is_refused(cluster, launcher):
    cluster.say(run(executor_task("t1", "e1", command="one")))
    cluster.say(run(executor_task("t2", "e1", command="two")))
    (update,) = cluster.master.updates("t2")
    assert update.status.state == TaskState.TASK_ERROR and "different command" in update.status.message
    assert len(launcher.launched) == 1


def test_noop_mode_reports_running_then_finished_without_any_executor(transport, tmp_path):
    c = Cluster(transport, tmp_path / "work", NoopLauncher(), master={"auto_ack": True})
    try:
        c.say(run(command_task("t1")))
        assert c.master.states("t1") == [TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]
        state = c.state()
        assert state["tasks"] == [] and [t["id"] for t in state["completed_tasks"]] == ["t1"]
        assert state["executors"] == []
    finally:
        c.stop()


def test_used_resources_count_live_tasks_only(transport, tmp_path):
    c = Cluster(transport, tmp_path / "work", master={"auto_ack": True})
    try:
        c.say(run(command_task("t1")))
        assert c.state()["used_resources"] == "cpus:0.1;mem:32"
    finally:
        c.stop()


def test_run_task_redelivered_after_the_task_completed_is_not_run_again(transport, tmp_path):
    c = Cluster(transport, tmp_path / "work", NoopLauncher(), master={"auto_ack": True})
    try:
        c.say(run(command_task("t1")))
        c.say(run(command_task("t1")))
        assert c.master.states("t1") == [TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]
    finally:
        c.stop()
