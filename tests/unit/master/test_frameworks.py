"""Framework registration, heartbeats, disconnection, failover and removal."""

from __future__ import annotations

from dataclasses import replace

from messages import (
    Accept,
    CommandInfo,
    DeactivateFramework,
    Decline,
    FrameworkActivated,
    FrameworkAdded,
    FrameworkDeactivated,
    FrameworkError,
    FrameworkHeartbeat,
    FrameworkInfo,
    FrameworkRegistered,
    FrameworkRemoved,
    FrameworkReregistered,
    KillTask,
    MasterHeartbeat,
    Operation,
    OperationType,
    RegisterFramework,
    ReregisterFramework,
    RescindResourceOffer,
    Resources,
    ResourcesRecovered,
    ShutdownFramework,
    TaskInfo,
    TaskState,
    UnregisterFramework,
)


def launch(cluster, fw, agent, task_id="t1", resources="cpus:1;mem:128"):
    offer = cluster.offer(fw.id, agent.id, "cpus:4;mem:4096")
    task = TaskInfo(task_id, task_id, agent.id, Resources.parse(resources), command=CommandInfo("sleep 100"))
    fw.send(Accept(fw.id, (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    return task


def test_registering_framework_gets_registered_and_is_added_to_allocator(cluster):
    fw = cluster.framework("f1", roles=("web",))
    answer = fw.last(FrameworkRegistered)
    assert answer.framework_id == "f1" and answer.master.master_id == "m1"
    added = cluster.allocator_got(FrameworkAdded)
    assert added == [FrameworkAdded("f1", ("web",), True)]
    assert cluster.state()["metrics"]["master/frameworks_active"] == 1


def test_retried_registration_is_answered_again_without_a_second_add(cluster):
    fw = cluster.framework("f1")
    fw.send(RegisterFramework(fw.info))
    assert len(fw.got(FrameworkRegistered)) == 2
    assert len(cluster.allocator_got(FrameworkAdded)) == 1


def test_registering_an_id_in_use_by_another_framework_is_refused(cluster):
    cluster.framework("f1", name="first")
    other = FrameworkInfo(user="u", name="second", framework_id="f1")
    cluster.send("framework.f1", RegisterFramework(other))
    cluster.settle()
    assert cluster.frameworks["f1"].last(FrameworkError).message == "framework id already in use"


def test_invalid_framework_info_is_refused_with_the_reason(cluster):
    bad = [
        (FrameworkInfo(user="u", name="n", framework_id=""), "framework_id must not be empty"),
        (FrameworkInfo(user="u", name="n", framework_id="a/b"), "must not contain '/'"),
        (FrameworkInfo(user="u", name="n", framework_id="f", roles=()), "at least one role"),
        (FrameworkInfo(user="u", name="n", framework_id="f", roles=("a b",)), "spaces"),
        (FrameworkInfo(user="u", name="n", framework_id="f", roles=("x", "x")), "twice"),
        (FrameworkInfo(user="u", name="n", framework_id="f", failover_timeout=-1), "failover_timeout"),
    ]
    fw = cluster.framework("f", register=False)
    for info, reason in bad:
        fw.send(RegisterFramework(info))
        assert reason in fw.last(FrameworkError).message
    assert cluster.allocator_got(FrameworkAdded) == []


def test_heartbeat_is_answered_with_known_for_a_connected_framework(cluster):
    fw = cluster.framework("f1")
    fw.send(FrameworkHeartbeat("f1"))
    assert fw.last(MasterHeartbeat) == MasterHeartbeat("m1", True)


def test_heartbeat_from_an_unknown_framework_is_answered_unknown(cluster):
    fw = cluster.framework("f9", register=False)
    fw.send(FrameworkHeartbeat("f9"))
    assert fw.last(MasterHeartbeat) == MasterHeartbeat("m1", False)


def test_silent_framework_is_disconnected_after_three_heartbeat_intervals(cluster):
    fw = cluster.framework("f1", failover_timeout=60.0)
    cluster.agent("a1")
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.alive = False
    cluster.advance(14)
    assert cluster.allocator_got(FrameworkDeactivated) == []
    cluster.advance(1)
    assert cluster.allocator_got(FrameworkDeactivated) == [FrameworkDeactivated("f1")]
    assert fw.last(RescindResourceOffer).offer_id == offer.offer_id
    recovered = cluster.allocator_got(ResourcesRecovered)[-1]
    assert (recovered.resources, recovered.refuse_seconds) == (offer.resources, None)
    assert cluster.state()["frameworks"][0]["connected"] is False


def test_heartbeating_framework_stays_connected(cluster):
    cluster.framework("f1")
    cluster.advance(60)
    assert cluster.allocator_got(FrameworkDeactivated) == []


def test_disconnected_framework_is_removed_after_failover_timeout_and_its_tasks_killed(cluster):
    fw = cluster.framework("f1", failover_timeout=30.0)
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    fw.alive = False
    cluster.advance(15)  # disconnected now
    cluster.advance(25)
    assert cluster.allocator_got(FrameworkRemoved) == []
    cluster.advance(5)
    assert cluster.allocator_got(FrameworkRemoved) == [FrameworkRemoved("f1")]
    assert agent.last(KillTask) == KillTask("f1", "t1", "a1")
    assert agent.last(ShutdownFramework) == ShutdownFramework("f1")
    state = cluster.state()
    assert state["frameworks"] == [] and state["completed_frameworks"][0]["id"] == "f1"
    assert state["completed_tasks"][0]["state"] == "TASK_KILLED"


def test_reregistering_within_failover_timeout_keeps_tasks(cluster):
    fw = cluster.framework("f1", failover_timeout=30.0)
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    fw.alive = False
    cluster.advance(20)
    fw.alive = True
    fw.send(ReregisterFramework(fw.info, failover=True))
    assert fw.last(FrameworkReregistered).framework_id == "f1"
    assert cluster.allocator_got(FrameworkActivated) == [FrameworkActivated("f1")]
    cluster.advance(60)
    assert cluster.allocator_got(FrameworkRemoved) == []
    assert agent.got(KillTask) == []
    assert [t["id"] for t in cluster.state()["tasks"]] == ["t1"]


def test_failover_timeout_zero_removes_the_framework_at_once(cluster):
    fw = cluster.framework("f1")
    fw.alive = False
    cluster.advance(15)
    assert cluster.allocator_got(FrameworkRemoved) == [FrameworkRemoved("f1")]


def test_removed_framework_cannot_reregister(cluster):
    fw = cluster.framework("f1")
    fw.send(UnregisterFramework("f1"))
    fw.send(ReregisterFramework(fw.info))
    assert fw.last(FrameworkError).message == "framework removed"
    fw.send(RegisterFramework(fw.info))
    assert fw.last(FrameworkError).message == "framework removed"


def test_request_from_removed_framework_is_answered_framework_removed(cluster):
    fw = cluster.framework("f1")
    fw.send(UnregisterFramework("f1"))
    fw.send(Decline("f1", ("o1",)))
    assert fw.last(FrameworkError).message == "framework removed"


def test_request_from_unknown_framework_is_ignored(cluster):
    fw = cluster.framework("f9", register=False)
    fw.send(Decline("f9", ("o1",)))
    assert fw.got() == []
    assert cluster.state()["metrics"]["master/messages_from_unknown_frameworks"] == 1


def test_reregistration_of_a_framework_the_master_never_saw_readmits_it(cluster):
    fw = cluster.framework("f1", register=False)
    fw.send(ReregisterFramework(fw.info))
    assert fw.last(FrameworkReregistered).framework_id == "f1"
    assert cluster.allocator_got(FrameworkAdded) == [FrameworkAdded("f1", ("*",), True)]


def test_unregister_tears_down_tasks_and_forgets_the_framework(cluster):
    fw = cluster.framework("f1")
    agent = cluster.agent("a1")
    launch(cluster, fw, agent)
    fw.send(UnregisterFramework("f1"))
    assert agent.last(KillTask).task_id == "t1"
    assert agent.last(ShutdownFramework).framework_id == "f1"
    assert cluster.allocator_got(FrameworkRemoved) == [FrameworkRemoved("f1")]
    assert cluster.state()["metrics"]["master/tasks_killed"] == 1


def test_deactivate_disconnects_at_once_and_starts_failover(cluster):
    fw = cluster.framework("f1", failover_timeout=10.0)
    fw.send(DeactivateFramework("f1"))
    assert cluster.allocator_got(FrameworkDeactivated) == [FrameworkDeactivated("f1")]
    fw.send(FrameworkHeartbeat("f1"))
    assert fw.last(MasterHeartbeat).known is False
    fw.alive = False
    cluster.advance(10)
    assert cluster.allocator_got(FrameworkRemoved) == [FrameworkRemoved("f1")]


def test_failover_with_new_scheduler_rescinds_outstanding_offers(cluster):
    fw = cluster.framework("f1", failover_timeout=30.0)
    cluster.agent("a1")
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    fw.send(ReregisterFramework(fw.info, failover=True))
    assert fw.last(RescindResourceOffer).offer_id == offer.offer_id
    assert cluster.state()["offers"] == []


def test_changing_roles_on_reregistration_re_adds_the_framework(cluster):
    fw = cluster.framework("f1", roles=("a",))
    fw.send(ReregisterFramework(replace(fw.info, roles=("a", "b")), failover=False))
    assert fw.last(FrameworkReregistered).framework_id == "f1"
    assert cluster.allocator_got(FrameworkRemoved) == [FrameworkRemoved("f1")]
    assert cluster.allocator_got(FrameworkAdded)[-1].roles == ("a", "b")


def test_leaving_a_role_with_live_tasks_is_refused(cluster):
    fw = cluster.framework("f1", roles=("a",))
    agent = cluster.agent("a1")
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096", role="a")
    task = TaskInfo("t1", "t1", agent.id, Resources.parse("cpus:1"), command=CommandInfo("true"))
    fw.send(Accept("f1", (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    fw.send(ReregisterFramework(replace(fw.info, roles=("b",)), failover=False))
    assert "cannot leave role(s) ['a']" in fw.last(FrameworkError).message
    assert cluster.state()["tasks"][0]["state"] == TaskState.TASK_STAGING.value
