"""`Actor.hold_output_until`: output that relies on something not yet durable waits for
it, and the barrier runs once per burst, however many handlers asked for it."""

from __future__ import annotations

import threading

import pytest

import actors.runtime.actor as runtime_actor
from actors.runtime import Actor, actor_deaths, on
from messages import Envelope, PingAgent, PongAgent, UnregisterAgent


class Committer(Actor):
    """PingAgent: stage something, answer the sink (the answer relies on it).
    UnregisterAgent: wait until the test lets it go (so that a burst gathers behind)."""

    def __init__(self, address, transport, sink: list, *, fail: bool = False) -> None:
        super().__init__(address, transport)
        self.sink = sink
        self.fail = fail
        self.staged = 0
        self.barriers: list[tuple[int, int]] = []  # (staged, answers already out) at each barrier
        self.go = threading.Event()

    def barrier(self) -> None:
        self.barriers.append((self.staged, len(self.sink)))
        if self.fail:
            raise OSError("fsync: input/output error")

    @on(PingAgent)
    def stage_and_answer(self, msg: PingAgent) -> None:
        self.staged += 1
        self.hold_output_until(self.barrier)
        self.send("sink", PongAgent(agent_id=str(self.staged)))

    @on(UnregisterAgent)
    def wait_for_the_test(self, msg: UnregisterAgent) -> None:
        assert self.go.wait(10)


def _env(body, n: int) -> Envelope:
    return Envelope(id=f"m{n}", sender="test", target="c", body=body)


@pytest.fixture
def sink(transport):
    got: list = []
    transport.subscribe("sink", lambda d: (got.append(d), transport.ack(d)))
    return got


@pytest.fixture
def one_long_burst(monkeypatch):
    monkeypatch.setattr(runtime_actor, "BATCH_SECONDS", 60.0)


def test_a_burst_runs_its_barrier_once_before_any_of_its_output_leaves(transport, sink, one_long_burst) -> None:
    ref = Committer.start("c", transport, sink)
    try:
        actor = ref.proxy()
        go = actor.go.get()
        transport.publish(_env(UnregisterAgent("hold"), 0))  # keeps the actor busy meanwhile
        for n in range(1, 6):
            transport.publish(_env(PingAgent(), n))
        go.set()
        transport.settle()
        assert actor.barriers.get() == [(5, 0)]  # once, after all five handlers, before any answer
        assert len(sink) == 5 and transport.dead_letters == []
    finally:
        ref.stop()


def test_outside_a_burst_the_barrier_runs_at_once(transport, sink) -> None:
    ref = Committer.start("c", transport, sink)
    try:
        actor = ref.proxy()
        assert actor.dispatch(_env(PingAgent(), 1)).get() is None  # as replay does
        transport.settle()
        assert actor.barriers.get() == [(1, 0)] and len(sink) == 1
    finally:
        ref.stop()


def test_a_failed_barrier_lets_nothing_out_and_stops_the_actor(transport, sink, one_long_burst) -> None:
    ref = Committer.start("c", transport, sink, fail=True)
    transport.publish(_env(PingAgent(), 1))
    died = actor_deaths.wait(10)
    assert ref.actor_stopped.wait(10)
    assert died == ("c", "OSError: fsync: input/output error")
    assert sink == [] and transport.pending("c") == 1 and transport.dead_letters == []


def test_the_outbox_gate_holds_what_follows_it_and_keeps_the_order(transport, sink) -> None:
    from types import SimpleNamespace

    from actors.runtime.outbox import Outbox
    from messages import decode

    box = Outbox(SimpleNamespace(transport=transport))
    for n, name in enumerate(["before", "held-1", "held-2"]):
        if name == "held-1":
            box.hold()
        box.publish(Envelope(id=f"o{n}", sender="c", target="sink", body=PongAgent(name)))
    transport.settle()
    assert len(sink) == 1 and box.waiting == 2 and not box.flush()  # a resend does not pass the gate
    assert box.release() and box.waiting == 0
    transport.settle()
    assert [decode(d.body).body.agent_id for d in sink] == ["before", "held-1", "held-2"]
    box.hold()
    box.publish(Envelope(id="o9", sender="c", target="sink", body=PongAgent("dropped")))
    assert box.drop() == 1 and box.release()
    transport.settle()
    assert len(sink) == 3
