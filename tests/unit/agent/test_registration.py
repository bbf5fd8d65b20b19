"""The agent's link to the master: registration, retries, pings, re-registration, shutdown."""

from __future__ import annotations

from actors.agent.checkpoint import Checkpoint
from messages import (
    AgentRegistered,
    PingAgent,
    PongAgent,
    RegisterAgent,
    ReregisterAgent,
    ShutdownAgent,
    StatusUpdate,
    TaskState,
)
from tests.unit.agent.fakes import CMD, Cluster, ack, command_task, run, say


def test_agent_registers_with_a_proposed_id_and_its_resources(cluster):
    (register,) = cluster.master.bodies(RegisterAgent)
    assert register.agent.agent_id == cluster.agent.agent_id != ""
    assert cluster.address == f"agent.{register.agent.agent_id}"
    assert str(register.agent.resources) == "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"
    assert register.agent.attributes == {"rack": "r1"}
    assert register.agent.hostname == "host1"
    assert cluster.state()["registered"] is True


def test_unanswered_registration_is_retried_with_growing_backoff(transport, clock, tmp_path):
    c = Cluster(transport, tmp_path / "work", master={"answer": False})
    try:
        sent_at = [clock.now()]
        for _ in range(40):  # 40 s of virtual time, a second at a time
            before = len(c.master.bodies(RegisterAgent))
            clock.advance(1.0)
            transport.settle()
            if len(c.master.bodies(RegisterAgent)) > before:
                sent_at.append(clock.now())
        gaps = [b - a for a, b in zip(sent_at, sent_at[1:])]
        assert len(gaps) >= 4
        assert 1.0 <= gaps[0] <= 2.0  # twice the 1 s factor, jittered down to half: not before a busy master answers
        assert gaps[-1] > gaps[0]  # doubling
        assert all(g <= 60 for g in gaps)
    finally:
        c.stop()


def test_registration_retries_stop_once_answered(transport, clock, tmp_path):
    c = Cluster(transport, tmp_path / "work", master={"answer": False})
    try:
        clock.advance(3)
        transport.settle()
        c.master.answer = True
        clock.advance(5)
        transport.settle()
        count = len(c.master.bodies(RegisterAgent))
        clock.advance(120)
        transport.settle()
        assert len(c.master.bodies(RegisterAgent)) == count
        assert c.state()["registered"] is True
    finally:
        c.stop()


def test_agent_answers_ping_with_pong(cluster):
    cluster.say(PingAgent(connected=True))
    (pong,) = cluster.master.bodies(PongAgent)
    assert pong.agent_id == cluster.agent.agent_id


def test_agent_reregisters_when_pings_stop(cluster, clock, transport):
    clock.advance(15 * 5 - 1)
    transport.settle()
    assert cluster.master.bodies(ReregisterAgent) == []
    clock.advance(2)
    transport.settle()
    assert len(cluster.master.bodies(ReregisterAgent)) == 1


def test_a_deposed_masters_pings_are_ignored_until_the_agent_gives_up_on_masters(cluster, clock, transport):
    cluster.say(PingAgent(connected=True), epoch=7)
    cluster.say(PingAgent(connected=True), epoch=5)  # the old leader, still talking
    assert len(cluster.master.bodies(PongAgent)) == 1
    clock.advance(15 * 5 + 1)  # no ping from the leader: whichever master answers next leads
    transport.settle()
    assert len(cluster.master.bodies(ReregisterAgent)) == 1
    cluster.say(PingAgent(connected=True), epoch=5)  # e.g. a new leader whose clock runs late
    assert len(cluster.master.bodies(PongAgent)) == 2


def test_a_new_masters_call_to_all_agents_makes_the_agent_register_again(cluster, transport):
    say(transport, "group.master.agents", PingAgent(connected=False), epoch=9)  # as on a master's start
    assert len(cluster.master.bodies(ReregisterAgent)) == 1


def test_regular_pings_keep_the_agent_registered(cluster, clock, transport):
    for _ in range(10):
        clock.advance(15)
        cluster.say(PingAgent())
    assert cluster.master.bodies(ReregisterAgent) == []


def test_ping_timeout_uses_the_masters_interval(transport, clock, tmp_path):
    c = Cluster(transport, tmp_path / "work", master={"ping_interval": 1.0, "max_missed_pings": 2})
    try:
        clock.advance(2.5)
        transport.settle()
        assert len(c.master.bodies(ReregisterAgent)) == 1
    finally:
        c.stop()


def test_ping_saying_not_connected_makes_the_agent_reregister(cluster):
    cluster.say(PingAgent(connected=False))
    assert cluster.master.bodies(PongAgent) == []  # the re-registration is the answer
    (again,) = cluster.master.bodies(ReregisterAgent)
    assert again.agent.agent_id == cluster.agent.agent_id


def test_an_executor_asking_whether_its_agent_is_there_gets_a_pong_and_changes_nothing(cluster, executor, clock, transport):
    cluster.say(PingAgent(connected=False), sender=CMD)
    assert [type(e.body) for e in executor.received] == [PongAgent] and executor.received[0].body.agent_id == "a1"
    assert cluster.master.bodies(ReregisterAgent) == [] and cluster.master.bodies(PongAgent) == []
    for _ in range(6):  # executors' pings say nothing about the master: it still re-registers
        clock.advance(15)
        cluster.say(PingAgent(), sender=CMD)
    assert len(cluster.master.bodies(ReregisterAgent)) == 1


def test_restarted_agent_reregisters_with_its_checkpointed_id_and_tasks(transport, tmp_path):
    from actors.agent.launcher import NoopLauncher

    c = Cluster(transport, tmp_path / "work", NoopLauncher())
    try:
        first_id = c.agent.agent_id
        c.say(run(command_task("t1")))  # noop: RUNNING then FINISHED, neither acknowledged
        c.restart()
        (again,) = c.master.bodies(ReregisterAgent)
        assert again.agent.agent_id == first_id == c.agent.agent_id
        assert [(t.task_id, t.state) for t in again.tasks] == [("t1", TaskState.TASK_FINISHED)]
        assert [f.framework_id for f in again.frameworks] == ["f1"]
    finally:
        c.stop()


def test_agent_that_never_registered_registers_again_after_restart(transport, tmp_path):
    c = Cluster(transport, tmp_path / "work", master={"answer": False})
    try:
        first_id = c.agent.agent_id
        c.restart()
        assert c.master.bodies(ReregisterAgent) == []
        assert {r.agent.agent_id for r in c.master.bodies(RegisterAgent)} == {first_id}
    finally:
        c.stop()


def test_updates_unacknowledged_before_a_restart_are_resent_after_it(transport, tmp_path):
    from actors.agent.launcher import NoopLauncher

    c = Cluster(transport, tmp_path / "work", NoopLauncher())
    try:
        c.say(run(command_task("t1")))
        running, = c.master.updates("t1")
        c.restart()
        assert [u.uuid for u in c.master.updates("t1")] == [running.uuid, running.uuid]
        c.say(ack(running))
        assert c.master.states("t1")[-1] == TaskState.TASK_FINISHED
    finally:
        c.stop()


def test_shutdown_agent_stops_it_and_forgets_its_id(cluster, transport):
    cluster.say(ShutdownAgent("removed by operator"))
    transport.settle()
    assert not cluster.refs[-1].is_alive()
    assert Checkpoint(cluster.work_dir / "meta").load().agent_id == ""


def test_answer_for_another_agent_id_is_ignored(transport, clock, tmp_path):
    c = Cluster(transport, tmp_path / "work", master={"answer": False})
    try:
        c.say(AgentRegistered("someone-else", 15, 5))
        assert c.state()["registered"] is False
    finally:
        c.stop()


def test_updates_wait_while_unregistered_and_go_out_on_registration(transport, clock, tmp_path):
    from actors.agent.launcher import NoopLauncher

    c = Cluster(transport, tmp_path / "work", NoopLauncher(), master={"answer": False})
    try:
        c.say(run(command_task("t1")))
        assert c.master.bodies(StatusUpdate) == []
        c.master.answer = True
        clock.advance(2)
        transport.settle()
        assert c.master.states("t1") == [TaskState.TASK_RUNNING]
    finally:
        c.stop()


def test_new_work_dir_gets_a_new_id_that_the_next_start_keeps(transport, tmp_path):
    c = Cluster(transport, tmp_path / "work", agent_id="")
    try:
        first = c.agent.agent_id
        assert first.startswith("mesobus-") and len(first) == 8 + 36  # the principal, then a uuid
        c.restart()
        assert c.agent.agent_id == first
    finally:
        c.stop()


def test_registration_is_retried_however_long_the_master_stays_away(transport, clock, tmp_path):
    """The backoff's 2 ** attempt, times a float, overflowed after 1,024 retries (17 hours
    at the 60 s cap): the handler raised and the agent never asked again."""
    c = Cluster(transport, tmp_path / "work", master={"answer": False})
    try:
        for _ in range(1100):
            clock.advance(60.0)
            transport.settle()
        before = len(c.master.bodies(RegisterAgent))
        assert before > 1050
        clock.advance(60.0)
        transport.settle()
        assert len(c.master.bodies(RegisterAgent)) == before + 1
    finally:
        c.stop()
