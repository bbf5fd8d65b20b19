"""The master trusts the principal the transport verified, never the envelope: each attack
of a principal holding only the broker URL is refused, dead-lettered with its reason and
counted, and leaves the victim's state as it was."""

from __future__ import annotations

import itertools

import pytest

from messages import (
    Accept,
    AgentInfo,
    CommandInfo,
    Decline,
    Envelope,
    Filters,
    FrameworkInfo,
    KillTask,
    Operation,
    OperationType,
    RegisterAgent,
    RegisterFramework,
    ReregisterFramework,
    Resources,
    ResourcesAllocated,
    AllocationEntry,
    StatusSource,
    StatusUpdate,
    TaskInfo,
    TaskState,
    TaskStatus,
    UnregisterAgent,
    UnregisterFramework,
)
from messages.master_timers import AgentPingTimer

_ids = itertools.count(1)


def publish_as(cluster, user: str, sender: str, body, target: str = "master", epoch: int = 0) -> None:
    """Publish `body` claiming `sender`, through a connection of principal `user`."""
    envelope = Envelope(id=f"sec-{next(_ids)}", sender=sender, target=target, body=body,
                        sent_at=cluster.clock.now(), epoch=epoch)
    cluster.transport.as_user(user).publish(envelope)
    cluster.settle()


def refusals(cluster) -> list[str]:
    return [d.reason for d in cluster.transport.dead_letters if d.reason.startswith("refused")]


@pytest.fixture
def victim(cluster):
    """Framework f1 registered by principal alice, with task t1 running on agent a1
    (registered by principal agent-a1)."""
    fw = cluster.framework("f1", register=False)
    publish_as(cluster, "alice", fw.address, RegisterFramework(fw.info))
    agent = cluster.agent("a1", register=False)
    publish_as(cluster, "agent-a1", agent.address, RegisterAgent(agent.info))
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    task = TaskInfo("t1", "t1", "a1", Resources.parse("cpus:1;mem:128"), command=CommandInfo("sleep 100"))
    publish_as(cluster, "alice", fw.address, Accept("f1", (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    assert cluster.state()["tasks"][0]["state"] == "TASK_STAGING"
    fw.clear()
    return fw, agent


def task_state(cluster) -> str:
    return cluster.state()["tasks"][0]["state"]


def running(task_id="t1", agent_id="a1", state=TaskState.TASK_FINISHED):
    status = TaskStatus(task_id, state, agent_id=agent_id, uuid="u9", source=StatusSource.SOURCE_EXECUTOR)
    return StatusUpdate("f1", "mesobus-command", agent_id, status, 1.0, "u9")


def test_a_forged_status_update_does_not_finish_another_frameworks_task(cluster, victim):
    publish_as(cluster, "mallory", "agent.a1", running())
    assert task_state(cluster) == "TASK_STAGING"
    assert victim[0].got(StatusUpdate) == []
    assert "belongs to principal 'agent-a1', not 'mallory'" in refusals(cluster)[-1]
    # the real agent's principal is believed
    publish_as(cluster, "agent-a1", "agent.a1", running())
    assert cluster.state()["completed_tasks"][0]["state"] == "TASK_FINISHED"


def test_an_agent_cannot_report_for_a_task_on_another_agent(cluster, victim):
    other = cluster.agent("a2", register=False)
    publish_as(cluster, "agent-a2", other.address, RegisterAgent(other.info))
    publish_as(cluster, "agent-a2", "agent.a2", running(agent_id="a2"))
    assert task_state(cluster) == "TASK_STAGING"
    assert "runs on agent 'a1'" in refusals(cluster)[-1]


def test_a_forged_unregister_agent_leaves_the_agent_registered(cluster, victim):
    publish_as(cluster, "mallory", "agent.a1", UnregisterAgent("a1"))
    assert [a["id"] for a in cluster.state()["agents"]] == ["a1"]
    assert refusals(cluster)


@pytest.mark.parametrize("sender,user", [("master", "mallory"), ("mallory", "mallory"), ("agent.a1", "agent-a1")])
def test_timers_are_only_taken_from_the_master_itself(cluster, victim, sender, user):
    for generation in range(20):  # a burst would mark the agent unreachable
        publish_as(cluster, user, sender, AgentPingTimer("a1", generation))
    assert cluster.state()["agents"][0]["reachable"] is True
    assert len(refusals(cluster)) == 20


def test_another_principal_cannot_take_over_a_framework_id(cluster, victim):
    thief = FrameworkInfo(user="root", name="thief", framework_id="f1")
    publish_as(cluster, "mallory", "framework.f1", ReregisterFramework(thief))
    publish_as(cluster, "mallory", "framework.f1", RegisterFramework(thief))
    state = cluster.state()["frameworks"][0]
    assert state["name"] == "fw f1" and state["user"] == "tester"
    assert all("belongs to principal 'alice'" in r for r in refusals(cluster)[-2:])
    # the owner may re-register
    publish_as(cluster, "alice", "framework.f1", ReregisterFramework(victim[0].info))
    assert len(refusals(cluster)) == 2


def test_a_framework_cannot_declare_another_principal(cluster):
    info = FrameworkInfo(user="tester", name="liar", framework_id="f9", principal="alice")
    publish_as(cluster, "mallory", "framework.f9", RegisterFramework(info))
    assert cluster.state()["frameworks"] == []
    assert "declares principal 'alice'" in refusals(cluster)[-1]


def test_another_principal_cannot_kill_decline_accept_or_unregister_for_a_framework(cluster, victim):
    offer = cluster.offer("f1", "a1", "cpus:3")
    task = TaskInfo("t2", "t2", "a1", Resources.parse("cpus:1"), command=CommandInfo("id"))
    publish_as(cluster, "mallory", "framework.f1", KillTask("f1", "t1"))
    publish_as(cluster, "mallory", "framework.f1", KillTask("f1", "t1"), target="agent.a1")
    publish_as(cluster, "mallory", "framework.f1", Decline("f1", (offer.offer_id,), Filters(3600)))
    publish_as(cluster, "mallory", "framework.f1", Accept("f1", (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    publish_as(cluster, "mallory", "framework.f1", UnregisterFramework("f1"))
    state = cluster.state()
    assert [t["id"] for t in state["tasks"]] == ["t1"]
    assert task_state(cluster) == "TASK_STAGING"
    assert [o["id"] for o in state["offers"]] == [offer.offer_id]
    assert len(refusals(cluster)) == 4  # the kill sent to the fake agent is its business
    assert cluster.master.proxy().metrics.get()["master/messages_refused"] == 4


def test_a_forged_allocation_makes_no_offer(cluster, victim):
    huge = (AllocationEntry("f1", "a1", "*", Resources.parse("cpus:1000")),)
    publish_as(cluster, "mallory", "allocator", ResourcesAllocated(huge))
    publish_as(cluster, "alice", "framework.f1", ResourcesAllocated(huge))
    assert victim[0].offers() == []
    assert len(refusals(cluster)) == 2


def test_another_principal_cannot_reregister_an_agent_id(cluster, victim):
    fake = AgentInfo(hostname="evil", resources=Resources.parse("cpus:1000"), agent_id="a1")
    publish_as(cluster, "mallory", "agent.a1", RegisterAgent(fake))
    assert cluster.state()["agents"][0]["hostname"] == "a1.test"
    assert "belongs to principal 'agent-a1'" in refusals(cluster)[-1]
