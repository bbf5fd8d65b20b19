"""Agents, executors and schedulers believe only the master's principal when a message
claims to come from the master (epochs included), and only their own principal for the
rest (timers, executors)."""

from __future__ import annotations

import itertools

import pytest

from messages import Envelope, KillTask, PingAgent, RegisterExecutor, ShutdownAgent, TaskState
from tests.unit.agent.fakes import CMD, Cluster, FakeLauncher, Recorder, command_task, run

_ids = itertools.count(1)


def say_as(transport, user: str, target: str, body, sender: str = "master", epoch: int = 0) -> None:
    envelope = Envelope(id=f"sec-{next(_ids)}", sender=sender, target=target, body=body,
                        sent_at=transport.clock.now(), epoch=epoch)
    transport.as_user(user).publish(envelope)
    transport.settle()


def refusals(transport) -> list[str]:
    return [d.reason for d in transport.dead_letters if d.reason.startswith("refused")]


@pytest.fixture
def agent_cluster(transport, tmp_path):
    launcher = FakeLauncher()
    c = Cluster(transport, tmp_path / "work", launcher)  # the master and the agent are "mesobus"
    c.launcher = launcher
    yield c
    c.stop()


def test_a_run_task_not_from_the_masters_principal_runs_nothing(agent_cluster, transport):
    say_as(transport, "mallory", agent_cluster.address, run(command_task("t1", "id > /tmp/owned")))
    assert agent_cluster.launcher.launched == []
    assert agent_cluster.state()["tasks"] == []
    assert "published by 'mallory'" in refusals(transport)[-1]
    say_as(transport, "mesobus", agent_cluster.address, run(command_task("t1")))
    assert len(agent_cluster.launcher.launched) == 1


def test_a_kill_task_not_from_the_master_is_refused(agent_cluster, transport):
    agent_cluster.say(run(command_task("t1")))
    say_as(transport, "mallory", agent_cluster.address, KillTask("f1", "t1"))
    say_as(transport, "mallory", agent_cluster.address, ShutdownAgent("bye"), sender="framework.f1")
    (task,) = agent_cluster.state()["tasks"]
    assert task["state"] == "TASK_STAGING"
    assert len(refusals(transport)) == 2


def test_a_forged_epoch_does_not_make_the_agent_ignore_the_real_master(agent_cluster, transport):
    agent = agent_cluster.agent
    say_as(transport, "mallory", agent_cluster.address, PingAgent(connected=True), epoch=2**62)
    assert agent.leader_epoch == 0
    assert agent.counters["refused"] == 1
    before = agent.counters["handled"]
    agent_cluster.say(PingAgent(connected=True), epoch=1)  # the real master, epoch 1
    assert agent.counters["handled"] == before + 1 and agent.leader_epoch == 1


def test_executor_messages_only_from_the_agents_own_principal(agent_cluster, transport):
    ref = Recorder.start(CMD, transport)
    try:
        executor = ref._actor_weakref()
        agent_cluster.say(run(command_task("t1")))
        say_as(transport, "mallory", agent_cluster.address, RegisterExecutor("f1", "mesobus-command"), sender=CMD)
        assert executor.received == []  # no task handed to an impostor
        assert "published by 'mallory'" in refusals(transport)[-1]
        say_as(transport, "mesobus", agent_cluster.address, RegisterExecutor("f1", "mesobus-command"), sender=CMD)
        assert [type(e.body).__name__ for e in executor.received] == ["ExecutorRegistered", "RunTask"]
    finally:
        ref.stop()


def test_agent_timers_only_from_the_agent_itself(agent_cluster, transport):
    from messages import AgentPingTimeout

    for generation in range(20):
        say_as(transport, "mallory", agent_cluster.address, AgentPingTimeout(generation), sender=agent_cluster.address)
    assert agent_cluster.agent.registered
    assert len(refusals(transport)) == 20


def test_an_agent_told_its_master_principal_refuses_its_own_user_as_master(transport, tmp_path):
    c = Cluster(transport, tmp_path / "work", FakeLauncher(), master_principal="the-master")
    try:
        c.say(run(command_task("t1")))  # "mesobus" is the agent's own user, not the master's
        assert c.state()["tasks"] == []
        say_as(transport, "the-master", c.address, run(command_task("t1")))
        assert [t["state"] for t in c.state()["tasks"]] == [TaskState.TASK_STAGING.value]
    finally:
        c.stop()


def test_a_scheduler_ignores_offers_and_errors_not_from_the_master(transport):
    from actors.scheduler import Scheduler
    from messages import FrameworkError, Offer, ResourceOffers, Resources

    got = []

    class Mine(Scheduler):
        def resource_offers(self, offers):
            got.append(offers)

        def error(self, message):
            got.append(message)

    master = Recorder.start("master", transport)  # hears the registration, answers nothing
    handle = Mine.run(transport, framework_id="f1")
    try:
        offer = Offer("o1", "f1", "a1", "h", Resources.parse("cpus:1000"))
        say_as(transport, "mallory", "framework.f1", ResourceOffers((offer,)))
        say_as(transport, "mallory", "framework.f1", FrameworkError("go away"), epoch=2**62)
        assert got == []
        assert handle.scheduler.error_message is None and handle.scheduler.leader_epoch == 0
        assert len(refusals(transport)) == 2
    finally:
        handle.stop()
        master.stop()


def test_a_scheduler_learns_the_masters_principal_from_the_environment(transport, monkeypatch):
    from actors.scheduler import Scheduler
    from messages import FrameworkError

    monkeypatch.setenv("MESOBUS_MASTER_PRINCIPAL", "the-master")
    master = Recorder.start("master", transport)
    handle = Scheduler.run(transport, framework_id="f1")
    try:
        assert handle.scheduler.master_principal == "the-master"
        say_as(transport, "mesobus", "framework.f1", FrameworkError("not from the master"))
        assert handle.scheduler.error_message is None
        assert "whose principal is 'the-master'" in refusals(transport)[-1]
    finally:
        handle.stop()
        master.stop()
