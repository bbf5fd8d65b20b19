"""Agent registration, re-registration, ping health, unreachable agents and removal."""

from __future__ import annotations

from messages import (
    Accept,
    AgentAdded,
    AgentInfo,
    AgentRegistered,
    AgentRemoved,
    AgentReregistered,
    AllocationEntry,
    CommandInfo,
    ExecutorInfo,
    FrameworkActivated,
    FrameworkAdded,
    FrameworkInfo,
    FrameworkReregistered,
    KillTask,
    LostAgent,
    Operation,
    OperationType,
    PingAgent,
    PongAgent,
    RegisterAgent,
    ReregisterAgent,
    ReregisterFramework,
    RescindResourceOffer,
    Resources,
    ShutdownAgent,
    ShutdownFramework,
    StatusReason,
    StatusSource,
    Task,
    TaskInfo,
    TaskState,
    UnregisterAgent,
    UnregisterFramework,
)


def launch(cluster, fw, agent, task_id="t1", resources="cpus:1;mem:128"):
    offer = cluster.offer(fw.id, agent.id, str(agent.info.resources))
    task = TaskInfo(task_id, task_id, agent.id, Resources.parse(resources), command=CommandInfo("sleep 100"))
    fw.send(Accept(fw.id, (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))


def reported(task_id, framework_id="f1", agent_id="a1", resources="cpus:1;mem:128", state=TaskState.TASK_RUNNING):
    return Task(task_id, task_id, framework_id, agent_id, "mesobus-command", Resources.parse(resources), state)


def test_registering_agent_is_answered_and_added_to_allocator(cluster):
    agent = cluster.agent("a1", "cpus:4;mem:4096", attributes={"rack": "r1"})
    assert agent.last(AgentRegistered) == AgentRegistered("a1", 15.0, 5)
    assert cluster.allocator_got(AgentAdded) == [
        AgentAdded("a1", Resources.parse("cpus:4;mem:4096"), "a1.test", {"rack": "r1"})
    ]
    metrics = cluster.state()["metrics"]
    assert (metrics["master/slaves_active"], metrics["master/cpus_total"]) == (1, 4)


def test_retried_registration_is_answered_again(cluster):
    agent = cluster.agent("a1")
    agent.send(RegisterAgent(agent.info))
    assert len(agent.got(AgentRegistered)) == 2
    assert len(cluster.allocator_got(AgentAdded)) == 1


def test_agent_id_in_use_by_another_host_is_refused(cluster):
    agent = cluster.agent("a1")
    other = AgentInfo(hostname="elsewhere", resources=Resources.parse("cpus:1"), agent_id="a1")
    agent.send(RegisterAgent(other))
    assert "already in use" in agent.last(ShutdownAgent).message


def test_invalid_agent_info_is_refused_with_the_reason(cluster):
    agent = cluster.agent("a1", register=False)
    for info, reason in [
        (AgentInfo(hostname="h", resources=Resources.parse("cpus:1"), agent_id=""), "agent_id must not be empty"),
        (AgentInfo(hostname="", resources=Resources.parse("cpus:1"), agent_id="a1"), "hostname"),
        (AgentInfo(hostname="h", resources=Resources(), agent_id="a1"), "resources must not be empty"),
    ]:
        agent.send(RegisterAgent(info))
        assert reason in agent.last(ShutdownAgent).message
    agent.send(ReregisterAgent(AgentInfo(hostname="h", resources=Resources(), agent_id="a1")))
    assert "resources" in agent.last(ShutdownAgent).message
    assert cluster.allocator_got(AgentAdded) == []


def test_master_pings_every_ping_interval(cluster):
    agent = cluster.agent("a1")
    cluster.advance(45)
    assert agent.got(PingAgent) == [PingAgent(True)] * 3


def test_answering_agent_stays_reachable(cluster):
    cluster.agent("a1")
    cluster.advance(300)
    assert cluster.allocator_got(AgentRemoved) == []


def test_agent_missing_max_pings_becomes_unreachable_within_the_window(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    agent.alive = False
    cluster.advance(85)  # pings at 15..75 unanswered: 4 missed so far
    assert cluster.allocator_got(AgentRemoved) == []
    cluster.advance(5)  # the 5th miss at 90 s
    assert cluster.allocator_got(AgentRemoved) == [AgentRemoved("a1")]
    assert fw.last(LostAgent) == LostAgent("a1")
    assert cluster.state()["metrics"]["master/slaves_unreachable"] == 1


def test_unreachable_agent_tasks_are_lost_for_plain_frameworks(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    offer = cluster.offer("f1", "a1", "cpus:3")
    agent.alive = False
    cluster.advance(90)
    status = fw.statuses()[-1]
    assert (status.task_id, status.state, status.reason, status.source) == (
        "t1",
        TaskState.TASK_LOST,
        StatusReason.REASON_AGENT_REMOVED,
        StatusSource.SOURCE_MASTER,
    )
    assert status.uuid == ""
    assert fw.last(RescindResourceOffer).offer_id == offer.offer_id
    assert cluster.state()["metrics"]["master/tasks_lost"] == 1


def test_unreachable_agent_tasks_are_unreachable_for_partition_aware_frameworks(cluster):
    fw = cluster.framework("f1", capabilities=("PARTITION_AWARE",))
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    agent.alive = False
    cluster.advance(90)
    assert fw.statuses()[-1].state is TaskState.TASK_UNREACHABLE
    assert cluster.state()["tasks"][0]["state"] == "TASK_UNREACHABLE"


def test_pong_from_unknown_agent_is_not_answered(cluster):
    # Agents answer every ping with a pong: answering a pong with a ping could bounce forever.
    agent = cluster.agent("a9", register=False)
    agent.send(PongAgent("a9"))
    assert agent.got() == []
    assert cluster.state()["metrics"]["master/pongs_from_unknown_agents"] == 1


def test_message_from_unreachable_agent_tells_it_to_reregister(cluster):
    from messages import ExitedExecutor

    agent = cluster.agent("a1")
    agent.alive = False
    cluster.advance(90)
    agent.send(ExitedExecutor("f1", "e1", "a1", 0))
    assert agent.last(PingAgent) == PingAgent(connected=False)


def test_unreachable_agent_reregistering_is_readmitted_and_lost_tasks_killed(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    agent.alive = False
    cluster.advance(90)
    agent.alive = True
    agent.send(ReregisterAgent(agent.info, tasks=(reported("t1"),)))
    assert agent.last(AgentReregistered).agent_id == "a1"
    assert agent.last(KillTask) == KillTask("f1", "t1", "a1")
    added = cluster.allocator_got(AgentAdded)[-1]
    assert added.used == (AllocationEntry("f1", "a1", "*", Resources.parse("cpus:1;mem:128")),)


def test_unreachable_partition_aware_task_comes_back_running(cluster):
    fw = cluster.framework("f1", capabilities=("PARTITION_AWARE",))
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    agent.alive = False
    cluster.advance(90)
    agent.alive = True
    agent.send(ReregisterAgent(agent.info, tasks=(reported("t1"),)))
    assert agent.got(KillTask) == []
    assert cluster.state()["tasks"][0]["state"] == "TASK_RUNNING"


def test_reregistering_agent_without_a_known_task_marks_it_lost(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    cluster.advance(15)
    agent.send(ReregisterAgent(agent.info, tasks=()))
    status = fw.statuses()[-1]
    assert (status.state, status.reason) == (TaskState.TASK_LOST, StatusReason.REASON_AGENT_RESTARTED)
    # The allocator starts the agent over: removed, then added with nothing in use.
    assert cluster.allocator_got(AgentRemoved) == [AgentRemoved("a1")]
    assert cluster.allocator_got(AgentAdded)[-1].used == ()


def test_agent_reregistering_after_master_restart_recovers_its_frameworks(cluster):
    agent = cluster.agent("a1", register=False)
    info = FrameworkInfo(user="u", name="web", framework_id="f1", roles=("web",), failover_timeout=60)
    task = Task("t1", "t1", "f1", "a1", "mesobus-command", Resources.parse("cpus:1"), TaskState.TASK_RUNNING, "web")
    agent.send(ReregisterAgent(agent.info, tasks=(task,), frameworks=(info,)))
    assert agent.last(AgentReregistered).agent_id == "a1"
    sent = [type(b).__name__ for b in cluster.allocator_got()]
    assert sent == ["FrameworkAdded", "AgentAdded"]  # the framework first, then its usage
    assert cluster.allocator_got(FrameworkAdded) == [FrameworkAdded("f1", ("web",), False)]
    assert cluster.allocator_got(AgentAdded)[0].used == (
        AllocationEntry("f1", "a1", "web", Resources.parse("cpus:1")),
    )
    fw = cluster.framework("f1", register=False, roles=("web",))
    fw.send(ReregisterFramework(info))
    assert fw.last(FrameworkReregistered).framework_id == "f1"
    assert cluster.allocator_got(FrameworkActivated) == [FrameworkActivated("f1")]
    assert cluster.state()["tasks"][0]["state"] == "TASK_RUNNING"


def test_recovered_framework_that_never_returns_is_removed(cluster):
    agent = cluster.agent("a1", register=False)
    agent.send(ReregisterAgent(agent.info, tasks=(reported("t1"),)))
    cluster.advance(600)
    assert agent.last(KillTask).task_id == "t1"
    assert agent.last(ShutdownFramework).framework_id == "f1"


def test_reported_task_of_a_removed_framework_is_killed(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    fw.send(UnregisterFramework("f1"))
    agent.clear()
    agent.send(ReregisterAgent(agent.info, tasks=(reported("t1"),)))
    assert agent.last(KillTask) == KillTask("f1", "t1", "a1")
    assert agent.last(ShutdownFramework) == ShutdownFramework("f1")
    assert cluster.state()["tasks"] == []


def test_bad_tasks_in_a_reregistration_are_skipped(cluster):
    agent = cluster.agent("a1", register=False)
    bad = reported("", framework_id="f1")
    elsewhere = reported("t2", agent_id="a2")
    agent.send(ReregisterAgent(agent.info, tasks=(bad, elsewhere, reported("t3"))))
    assert [t["id"] for t in cluster.state()["tasks"]] == ["t3"]
    assert cluster.state()["metrics"]["master/invalid_reregistered_tasks"] == 2


def test_unregistered_agent_is_removed_and_its_tasks_lost(cluster):
    fw = cluster.framework("f1")
    pa = cluster.framework("f2", capabilities=("PARTITION_AWARE",))
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    launch(cluster, pa, agent, task_id="t2")
    agent.send(UnregisterAgent("a1"))
    assert fw.statuses()[-1].state is TaskState.TASK_LOST
    assert pa.statuses()[-1].state is TaskState.TASK_GONE
    assert cluster.allocator_got(AgentRemoved) == [AgentRemoved("a1")]
    state = cluster.state()
    assert state["agents"] == [] and state["metrics"]["master/slave_removals"] == 1


def test_agent_registering_again_after_unregistering_is_admitted(cluster):
    agent = cluster.agent("a1")
    agent.send(UnregisterAgent("a1"))
    agent.send(RegisterAgent(agent.info))
    assert len(agent.got(AgentRegistered)) == 2
    assert len(cluster.allocator_got(AgentAdded)) == 2


def test_task_launched_just_before_a_retried_reregistration_is_kept(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)  # its RunTask crosses the agent's retried report
    agent.send(ReregisterAgent(agent.info, tasks=()))
    assert fw.statuses() == []
    assert cluster.state()["tasks"][0]["state"] == "TASK_STAGING"
    assert cluster.allocator_got(AgentAdded)[-1].used == (
        AllocationEntry("f1", "a1", "*", Resources.parse("cpus:1;mem:128")),
    )


def test_a_retried_reregistration_that_changes_nothing_is_answered_and_keeps_offers_and_allocation(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1", "cpus:4;mem:4096")
    launch(cluster, fw, agent, resources="cpus:1;mem:128")
    left = cluster.offer(fw.id, agent.id, "cpus:3;mem:3968")
    staging = reported("t1", state=TaskState.TASK_STAGING)
    command = (ExecutorInfo("mesobus-command", CommandInfo("mesobus-executor"), "f1"),)
    for _ in range(2):  # e.g. a new leader's call, then the agent's retry that crossed the answer
        agent.send(ReregisterAgent(agent.info, tasks=(staging,), executors=command))
    assert len(agent.got(AgentReregistered)) == 2
    assert cluster.allocator_got(AgentRemoved) == [] and len(cluster.allocator_got(AgentAdded)) == 1
    assert fw.got(RescindResourceOffer) == [] and [o["id"] for o in cluster.state()["offers"]] == [left.offer_id]
    assert cluster.state()["metrics"]["master/slave_reregistrations_unchanged"] == 2
    # Anything different (here its resources) starts it over in the allocator from its report.
    bigger = AgentInfo(hostname=agent.info.hostname, resources=Resources.parse("cpus:8;mem:4096"), agent_id="a1")
    agent.send(ReregisterAgent(bigger, tasks=(staging,), executors=command))
    assert cluster.allocator_got(AgentRemoved) == [AgentRemoved("a1")]
    assert cluster.allocator_got(AgentAdded)[-1].total == Resources.parse("cpus:8;mem:4096")
    assert fw.last(RescindResourceOffer).offer_id == left.offer_id
