"""The master relays a task's output between principals (actors/master/output_relay.py):
only from the agent and executor its task is on, only to that task's framework, its
acknowledgements back through the agent, and at a bounded cost (window, credit per
stream, limit per framework) — on the memory transport, where each party publishes as its
own principal."""

from __future__ import annotations

import itertools

import pytest

from actors.master import output_relay
from messages import (
    OUTPUT_CHUNK,
    Accept,
    CommandInfo,
    Envelope,
    Operation,
    OperationType,
    RegisterAgent,
    RegisterFramework,
    Resources,
    TaskInfo,
    TaskOutput,
    TaskOutputAck,
)

_ids = itertools.count(1)
EXECUTOR = "mesobus-command"
CHUNK = b"x" * OUTPUT_CHUNK


def publish_as(cluster, user: str, sender: str, body, target: str = "master") -> None:
    envelope = Envelope(id=f"relay-{next(_ids)}", sender=sender, target=target, body=body, sent_at=cluster.clock.now())
    cluster.transport.as_user(user).publish(envelope)
    cluster.settle()


def refusals(cluster) -> list[str]:
    return [d.reason for d in cluster.transport.dead_letters if d.reason.startswith("refused")]


def metric(cluster, name: str) -> float:
    return cluster.state()["metrics"].get(name, 0.0)


@pytest.fixture
def running(cluster):
    """Framework f1 of principal alice with task t1 on agent a1 of principal agents1 (a
    command task), and agent a2 of principal agents2 beside it."""
    fw = cluster.framework("f1", register=False)
    publish_as(cluster, "alice", fw.address, RegisterFramework(fw.info))
    agents = {}
    for aid, user in (("a1", "agents1"), ("a2", "agents2")):
        agents[aid] = cluster.agent(aid, register=False)
        publish_as(cluster, user, agents[aid].address, RegisterAgent(agents[aid].info))
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")
    task = TaskInfo("t1", "t1", "a1", Resources.parse("cpus:1;mem:128"), command=CommandInfo("yes"))
    publish_as(cluster, "alice", fw.address, Accept("f1", (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    fw.clear()
    agents["a1"].clear()
    return fw, agents["a1"], agents["a2"]


def output(offset: int, data: bytes = CHUNK, *, agent: str = "a1", task: str = "t1", framework: str = "f1",
           executor: str = EXECUTOR, eof: bool = False) -> TaskOutput:
    return TaskOutput(framework, executor, agent, task, "stdout", offset, data, eof)


def from_executor(cluster, body, user: str = "agents1", agent: str = "a1") -> None:
    publish_as(cluster, user, f"executor.{agent}.f1.{EXECUTOR}", body)


def test_output_is_relayed_to_the_framework_and_its_acknowledgement_back_through_the_agent(cluster, running):
    fw, agent, _ = running
    from_executor(cluster, output(0, b"hello\n"))
    assert fw.got(TaskOutput) == [output(0, b"hello\n")]
    assert fw.recorder.envelopes[-1].sender == "master"  # the framework believes the master's principal
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", 6))
    assert agent.got(TaskOutputAck) == [TaskOutputAck("f1", "t1", "stdout", 6, EXECUTOR)]
    from_executor(cluster, output(6, b"", eof=True))
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", 6))
    assert len(agent.got(TaskOutputAck)) == 2
    metrics = cluster.state()["metrics"]
    assert metrics["master/output_relayed_bytes"] == 6 and metrics["master/output_relayed_messages"] == 2
    assert metrics["master/output_acks_relayed"] == 2 and refusals(cluster) == []
    assert metrics["master/output_streams"] == 0  # the ended stream is forgotten


@pytest.mark.parametrize("user,agent,task,executor,why", [
    ("mallory", "a1", "t1", EXECUTOR, "belongs to principal 'agents1', not 'mallory'"),
    ("agents2", "a1", "t1", EXECUTOR, "belongs to principal 'agents1', not 'agents2'"),
    ("agents2", "a2", "t1", EXECUTOR, "runs on agent 'a1' in executor 'mesobus-command', not 'a2'"),
    ("agents1", "a1", "t1", "other", "not 'a1' in 'other'"),
    ("agents1", "a1", "t9", EXECUTOR, "which this master does not know"),
    ("agents1", "a9", "t1", EXECUTOR, "from agent 'a9', which this master does not know"),
])
def test_forged_output_for_a_task_is_refused(cluster, running, user, agent, task, executor, why):
    fw = running[0]
    from_executor(cluster, output(0, b"rm -rf / # pwned\n", agent=agent, task=task, executor=executor), user=user,
                  agent=agent)
    assert fw.got(TaskOutput) == []
    assert why in refusals(cluster)[-1]
    assert metric(cluster, "master/messages_refused") == 1


def test_another_principal_cannot_acknowledge_a_frameworks_output(cluster, running):
    fw, agent, _ = running
    from_executor(cluster, output(0))
    publish_as(cluster, "mallory", fw.address, TaskOutputAck("f1", "t1", "stdout", OUTPUT_CHUNK))
    assert agent.got(TaskOutputAck) == []
    assert "belongs to principal 'alice', not 'mallory'" in refusals(cluster)[-1]


def test_an_acknowledgement_of_what_was_not_relayed_goes_nowhere(cluster, running):
    fw, agent, _ = running
    from_executor(cluster, output(0))
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", 10 * OUTPUT_CHUNK))
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stderr", 1))
    assert agent.got(TaskOutputAck) == []
    assert metric(cluster, "master/output_acks_dropped") == 2


def test_a_chunk_past_the_window_is_dropped(cluster, running):
    fw = running[0]
    for i in range(5):  # the window is 4 chunks: the executor never sends a fifth unacknowledged
        from_executor(cluster, output(i * OUTPUT_CHUNK))
    assert [o.offset for o in fw.got(TaskOutput)] == [0, OUTPUT_CHUNK, 2 * OUTPUT_CHUNK, 3 * OUTPUT_CHUNK]
    assert metric(cluster, "master/output_dropped") == 1


def test_a_silent_framework_gets_a_window_and_one_resend_then_nothing_until_it_acknowledges(cluster, running,
                                                                                           monkeypatch):
    monkeypatch.setattr(output_relay, "RELAY_CREDIT_AFTER", 2.0)  # (30 s: the fakes' heartbeats would not do)
    fw, agent, _ = running
    for _ in range(3):  # the executor's go-back-N, each time its acknowledgement did not come
        for i in range(4):
            from_executor(cluster, output(i * OUTPUT_CHUNK))
    assert len(fw.got(TaskOutput)) == 8
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", 4 * OUTPUT_CHUNK))
    from_executor(cluster, output(4 * OUTPUT_CHUNK))
    assert len(fw.got(TaskOutput)) == 9
    # a stream left alone gets its credit back after a while (a lost window is not fatal)
    for i in range(4, 8):
        from_executor(cluster, output(i * OUTPUT_CHUNK))
        from_executor(cluster, output(i * OUTPUT_CHUNK))
    cluster.clock.advance(2.0)
    before = len(fw.got(TaskOutput))
    from_executor(cluster, output(4 * OUTPUT_CHUNK))
    assert len(fw.got(TaskOutput)) == before + 1


def test_a_chunk_the_framework_has_is_answered_not_relayed(cluster, running):
    fw, agent, _ = running
    from_executor(cluster, output(0))
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", OUTPUT_CHUNK))
    agent.clear()
    from_executor(cluster, output(0))  # the executor missed the acknowledgement
    assert len(fw.got(TaskOutput)) == 1
    assert agent.got(TaskOutputAck) == [TaskOutputAck("f1", "t1", "stdout", OUTPUT_CHUNK, EXECUTOR)]


def test_a_stream_first_seen_midway_takes_the_frameworks_word_for_where_it_is(cluster, running):
    fw, agent, _ = running  # e.g. a new leader, while the executor had chunk 0 unacknowledged
    from_executor(cluster, output(OUTPUT_CHUNK))
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", 0))  # it has a gap
    assert agent.got(TaskOutputAck) == [TaskOutputAck("f1", "t1", "stdout", 0, EXECUTOR)]
    from_executor(cluster, output(0))  # the executor goes back: relayed, not answered
    assert [o.offset for o in fw.got(TaskOutput)] == [OUTPUT_CHUNK, 0]
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", 2 * OUTPUT_CHUNK))
    publish_as(cluster, "alice", fw.address, TaskOutputAck("f1", "t1", "stdout", OUTPUT_CHUNK))  # behind: dropped
    assert [a.offset for a in agent.got(TaskOutputAck)] == [0, 2 * OUTPUT_CHUNK]


def test_a_slow_framework_has_a_bounded_amount_of_output_in_flight(cluster, running, monkeypatch):
    fw = running[0]
    monkeypatch.setattr(output_relay, "FRAMEWORK_LIMIT", 3 * OUTPUT_CHUNK)
    for i in range(4):
        from_executor(cluster, output(i * OUTPUT_CHUNK))
    assert len(fw.got(TaskOutput)) == 3
    # bytes already in flight (a resend) do not count twice
    from_executor(cluster, output(0))
    assert len(fw.got(TaskOutput)) == 4


def test_no_output_is_relayed_to_a_disconnected_framework(cluster, running):
    from messages import DeactivateFramework

    fw = running[0]
    publish_as(cluster, "alice", fw.address, DeactivateFramework("f1"))
    from_executor(cluster, output(0))
    assert fw.got(TaskOutput) == []
    assert metric(cluster, "master/output_dropped") == 1
