"""Status updates and acknowledgements, kills, reconciliation and executor traffic."""

from __future__ import annotations

import pytest

from actors.master import MasterConfig
from messages import (
    Accept,
    CommandInfo,
    ExecutorInfo,
    ExecutorToFramework,
    ExitedExecutor,
    FrameworkToExecutor,
    KillTask,
    Operation,
    OperationType,
    PingAgent,
    ReconcileTasks,
    Resources,
    ResourcesRecovered,
    StatusReason,
    StatusSource,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskInfo,
    TaskRef,
    TaskState,
    TaskStatus,
    UnregisterAgent,
    UnregisterFramework,
)
from tests.unit.master.fakes import Cluster

CPU = Resources.parse("cpus:1;mem:128")


@pytest.fixture
def fw(cluster):
    return cluster.framework("f1")


@pytest.fixture
def agent(cluster):
    return cluster.agent("a1", "cpus:4;mem:4096")


def launch(cluster, fw, agent, task_id="t1", executor=None):
    offer = cluster.offer(fw.id, agent.id, "cpus:4;mem:4096")
    command = None if executor else CommandInfo("sleep 100")
    task = TaskInfo(task_id, task_id, agent.id, CPU, command=command, executor=executor)
    fw.send(Accept(fw.id, (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    fw.clear()
    cluster.allocator.clear()


def update(task_id, state, uuid="u1", framework_id="f1", agent_id="a1", latest=""):
    status = TaskStatus(task_id, state, agent_id=agent_id, uuid=uuid, source=StatusSource.SOURCE_EXECUTOR)
    return StatusUpdate(framework_id, "mesobus-command", agent_id, status, 1.0, uuid, latest)


def test_status_update_is_forwarded_and_recorded(cluster, fw, agent):
    launch(cluster, fw, agent)
    msg = update("t1", TaskState.TASK_RUNNING)
    agent.send(msg)
    assert fw.last(StatusUpdate) == msg
    assert cluster.state()["tasks"][0]["state"] == "TASK_RUNNING"
    assert cluster.state()["metrics"]["master/tasks_running"] == 1


def test_terminal_update_recovers_the_task_resources_without_filter(cluster, fw, agent):
    launch(cluster, fw, agent)
    agent.send(update("t1", TaskState.TASK_FINISHED))
    assert cluster.allocator_got(ResourcesRecovered) == [ResourcesRecovered("f1", "a1", "*", CPU, None)]
    state = cluster.state()
    assert state["tasks"] == [] and state["completed_tasks"][0]["state"] == "TASK_FINISHED"
    assert state["metrics"]["master/tasks_finished"] == 1


def test_latest_state_decides_the_task_state(cluster, fw, agent):
    launch(cluster, fw, agent)
    agent.send(update("t1", TaskState.TASK_RUNNING, latest="TASK_FAILED"))
    assert cluster.state()["completed_tasks"][0]["state"] == "TASK_FAILED"
    agent.send(update("t1", TaskState.TASK_FAILED, uuid="u2"))  # its own update, later
    assert len(cluster.allocator_got(ResourcesRecovered)) == 1  # recovered once


def test_update_for_unknown_framework_is_acknowledged_to_the_agent(cluster, agent):
    agent.send(update("t1", TaskState.TASK_RUNNING, framework_id="ghost"))
    assert agent.last(StatusUpdateAcknowledgement) == StatusUpdateAcknowledgement("a1", "ghost", "t1", "u1")


def test_update_for_removed_framework_is_acknowledged_to_the_agent(cluster, fw, agent):
    launch(cluster, fw, agent)
    fw.send(UnregisterFramework("f1"))
    agent.send(update("t1", TaskState.TASK_KILLED, uuid="u9"))
    assert agent.last(StatusUpdateAcknowledgement).uuid == "u9"
    assert fw.got(StatusUpdate) == []


def test_update_from_unknown_agent_is_told_to_reregister(cluster, fw):
    stranger = cluster.agent("a9", register=False)
    stranger.send(update("t1", TaskState.TASK_RUNNING, agent_id="a9"))
    assert stranger.last(PingAgent) == PingAgent(connected=False)
    assert fw.got(StatusUpdate) == []


def test_acknowledgement_is_forwarded_to_the_agent(cluster, fw, agent):
    ack = StatusUpdateAcknowledgement("a1", "f1", "t1", "u1")
    fw.send(ack)
    assert agent.last(StatusUpdateAcknowledgement) == ack


def test_acknowledgement_for_gone_agent_or_without_uuid_is_dropped(cluster, fw, agent):
    fw.send(StatusUpdateAcknowledgement("a1", "f1", "t1", ""))
    fw.send(StatusUpdateAcknowledgement("a9", "f1", "t1", "u1"))
    assert agent.got(StatusUpdateAcknowledgement) == []


# --- kills -------------------------------------------------------------------------------


def test_kill_goes_to_the_task_agent(cluster, fw, agent):
    launch(cluster, fw, agent)
    fw.send(KillTask("f1", "t1", grace_period=2.0))
    assert agent.last(KillTask) == KillTask("f1", "t1", "a1", 2.0)


def test_kill_of_unknown_task_answers_task_lost(cluster, fw, agent):
    fw.send(KillTask("f1", "nope"))
    update = fw.last(StatusUpdate)
    assert (update.status.state, update.uuid, update.status.source) == (
        TaskState.TASK_LOST,
        "",
        StatusSource.SOURCE_MASTER,
    )
    assert agent.got(KillTask) == []


def test_kill_of_unknown_task_answers_task_unknown_when_partition_aware(cluster, agent):
    fw = cluster.framework("pa", capabilities=("PARTITION_AWARE",))
    fw.send(KillTask("pa", "nope"))
    assert fw.last(StatusUpdate).status.state is TaskState.TASK_UNKNOWN


def test_kill_of_finished_task_answers_its_state(cluster, fw, agent):
    launch(cluster, fw, agent)
    agent.send(update("t1", TaskState.TASK_FINISHED))
    fw.send(KillTask("f1", "t1"))
    assert fw.last(StatusUpdate).status.state is TaskState.TASK_FINISHED
    assert agent.got(KillTask) == []


def test_kill_on_unreachable_agent_is_done_when_it_returns(cluster, agent):
    from messages import ReregisterAgent, Task

    fw = cluster.framework("pa", capabilities=("PARTITION_AWARE",))
    launch(cluster, fw, agent)
    agent.alive = False
    cluster.advance(90)
    fw.send(KillTask("pa", "t1"))
    assert fw.last(StatusUpdate).status.state is TaskState.TASK_UNREACHABLE
    assert agent.got(KillTask) == []
    running = Task("t1", "t1", "pa", "a1", "mesobus-command", CPU, TaskState.TASK_RUNNING)
    agent.alive = True
    agent.send(ReregisterAgent(agent.info, tasks=(running,)))
    assert agent.last(KillTask) == KillTask("pa", "t1", "a1")


# --- reconciliation ----------------------------------------------------------------------


def reconcile_answers(fw, msg):
    fw.clear()
    fw.send(msg)
    answers = fw.statuses()
    assert all(s.reason is StatusReason.REASON_RECONCILIATION and s.uuid == "" for s in answers)
    return [(s.task_id, s.state) for s in answers]


def test_implicit_reconciliation_reports_every_live_task(cluster, fw, agent):
    launch(cluster, fw, agent, "t1")
    launch(cluster, fw, agent, "t2")
    agent.send(update("t2", TaskState.TASK_RUNNING))
    launch(cluster, fw, agent, "t3")
    agent.send(update("t3", TaskState.TASK_FINISHED))
    assert reconcile_answers(fw, ReconcileTasks("f1")) == [
        ("t1", TaskState.TASK_STAGING),
        ("t2", TaskState.TASK_RUNNING),
    ]


def test_explicit_reconciliation_reports_listed_tasks_and_lost_for_unknown(cluster, fw, agent):
    launch(cluster, fw, agent, "t1")
    launch(cluster, fw, agent, "t2")
    agent.send(update("t2", TaskState.TASK_FAILED))
    refs = (TaskRef("t2"), TaskRef("nope"), TaskRef("t1", "a1"))
    assert reconcile_answers(fw, ReconcileTasks("f1", refs)) == [
        ("t2", TaskState.TASK_FAILED),
        ("nope", TaskState.TASK_LOST),
        ("t1", TaskState.TASK_STAGING),
    ]


def test_partition_aware_reconciliation_of_unknown_tasks(cluster):
    fw = cluster.framework("pa", capabilities=("PARTITION_AWARE",))
    gone = cluster.agent("a1")
    lost = cluster.agent("a2")
    gone.send(UnregisterAgent("a1"))
    lost.alive = False
    cluster.advance(90)
    refs = (TaskRef("x"), TaskRef("y", "a1"), TaskRef("z", "a2"))
    assert reconcile_answers(fw, ReconcileTasks("pa", refs)) == [
        ("x", TaskState.TASK_UNKNOWN),
        ("y", TaskState.TASK_GONE),
        ("z", TaskState.TASK_UNREACHABLE),
    ]


# --- executors ---------------------------------------------------------------------------


def test_framework_message_is_relayed_to_the_agent(cluster, fw, agent):
    msg = FrameworkToExecutor("f1", "e1", "a1", b"hi")
    fw.send(msg)
    assert agent.last(FrameworkToExecutor) == msg
    fw.send(FrameworkToExecutor("f1", "e1", "a9", b"lost"))
    assert len(agent.got(FrameworkToExecutor)) == 1
    assert cluster.state()["metrics"]["master/dropped_framework_messages"] == 1


def test_executor_message_is_relayed_to_the_framework(cluster, fw, agent):
    msg = ExecutorToFramework("f1", "e1", "a1", b"hello")
    agent.send(msg)
    assert fw.last(ExecutorToFramework) == msg


def test_exited_executor_is_forwarded_and_its_resources_recovered(cluster, fw, agent):
    executor = ExecutorInfo("e1", CommandInfo("run"), resources=Resources.parse("cpus:0.5"))
    launch(cluster, fw, agent, executor=executor)
    msg = ExitedExecutor("f1", "e1", "a1", 137)
    agent.send(msg)
    assert fw.last(ExitedExecutor) == msg
    assert cluster.allocator_got(ResourcesRecovered) == [
        ResourcesRecovered("f1", "a1", "*", Resources.parse("cpus:0.5"), None)
    ]
    assert cluster.state()["agents"][0]["executors"] == []


def test_operator_api_shows_each_frameworks_newest_finished_tasks_while_reconciliation_knows_more(transport, clock):
    config = MasterConfig(master_id="m1", hostname="master.test", max_completed_tasks_per_framework=2)
    cluster = Cluster(transport, clock, config)
    try:
        f1, f2, agent = cluster.framework("f1"), cluster.framework("f2"), cluster.agent("a1", "cpus:4;mem:4096")
        for fw, task_ids in ((f1, ("t1", "t2", "t3")), (f2, ("u1",))):
            for task_id in task_ids:
                launch(cluster, fw, agent, task_id)
                agent.send(update(task_id, TaskState.TASK_FINISHED, uuid=f"x-{task_id}", framework_id=fw.id))
        snap = cluster.master.proxy().snapshots.get().latest()
        assert [(t.framework_id, t.task_id) for t in snap.completed_tasks] == [("f1", "t2"), ("f1", "t3"), ("f2", "u1")]
        assert reconcile_answers(f1, ReconcileTasks("f1", (TaskRef("t1"),))) == [("t1", TaskState.TASK_FINISHED)]
    finally:
        cluster.stop()
