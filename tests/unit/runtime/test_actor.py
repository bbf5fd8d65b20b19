"""The actor runtime: dispatch, dead letters, replies, timers, at-least-once settling."""

from __future__ import annotations

import threading

import pytest

from actors.runtime import Actor, MemoryTransport, VirtualClock, on
from messages import Envelope, PingAgent, PongAgent, ShutdownAgent, UnregisterAgent


class Recorder(Actor):
    """Answers pings, records pongs, fails on ShutdownAgent, delays on UnregisterAgent."""

    def __init__(self, address, transport, **kw):
        super().__init__(address, transport, **kw)
        self.seen: list[Envelope] = []
        self.timer = ""

    @on(PingAgent)
    def ping(self, msg: PingAgent) -> None:
        self.reply(PongAgent(agent_id=self.address))

    @on(PongAgent)
    def pong(self, msg: PongAgent) -> None:
        self.seen.append(self.envelope)

    @on(ShutdownAgent)
    def explode(self, msg: ShutdownAgent) -> None:
        raise RuntimeError(msg.message)

    @on(UnregisterAgent)
    def later(self, msg: UnregisterAgent) -> None:
        if msg.agent_id == "cancel":
            self.cancel(self.timer)
        else:
            self.timer = self.delay(5.0, PongAgent(agent_id="timer"))


def _env(body, target="rec", sender="test", id_="m1") -> Envelope:
    return Envelope(id=id_, sender=sender, target=target, body=body)


@pytest.fixture
def rec(transport):
    ref = Recorder.start("rec", transport)
    yield ref.proxy()
    ref.stop()


def test_handler_gets_the_message_and_its_envelope(transport, rec) -> None:
    transport.publish(_env(PongAgent("a1")))
    transport.settle()
    seen = rec.seen.get()
    assert [e.body for e in seen] == [PongAgent("a1")] and seen[0].sender == "test"


def test_ask_gets_the_reply_with_the_asks_id_as_correlation(transport, rec) -> None:
    reply = transport.ask(_env(PingAgent(), id_="q1"), timeout=5).result(5)
    assert reply.body == PongAgent("rec") and reply.correlation_id == "q1"


def test_ask_times_out_on_the_virtual_clock(transport, clock) -> None:
    future = transport.ask(_env(PingAgent(), target="nobody"), timeout=3)
    clock.advance(3)
    with pytest.raises(TimeoutError, match="no reply to PingAgent from nobody"):
        future.result(1)


def test_undecodable_bytes_are_dead_lettered_and_the_actor_keeps_running(transport, rec) -> None:
    transport.publish_raw("rec", b"\x00garbage")
    transport.publish(_env(PongAgent("after")))
    transport.settle()
    assert [d.reason.split(":")[0] for d in transport.dead_letters] == ["undecodable"]
    assert [e.body.agent_id for e in rec.seen.get()] == ["after"]
    assert rec.counters.get()["undecodable"] == 1


def test_a_message_no_handler_accepts_is_dead_lettered_with_the_reason(transport) -> None:
    class Mute(Actor):
        pass

    ref = Mute.start("mute", transport)
    transport.publish(_env(PongAgent("x"), target="mute"))
    transport.settle()
    ref.stop()
    assert transport.dead_letters[0].reason == "no handler for PongAgent at mute"


def test_a_failing_handler_is_dead_lettered_and_the_actor_survives(transport, rec) -> None:
    transport.publish(_env(ShutdownAgent("boom")))
    transport.publish(_env(PongAgent("next"), id_="m2"))
    transport.settle()
    assert "RuntimeError: boom" in transport.dead_letters[0].reason
    assert [e.body.agent_id for e in rec.seen.get()] == ["next"]
    assert rec.actor_ref.is_alive()


def test_sent_messages_carry_the_cause_and_the_sender(transport, rec) -> None:
    reply = transport.ask(_env(PingAgent(), id_="cause-1"), timeout=5).result(5)
    assert reply.causation_id == "cause-1" and reply.sender == "rec"


def test_delay_delivers_through_the_mailbox_after_the_virtual_time(transport, clock, rec) -> None:
    transport.publish(_env(UnregisterAgent("set")))
    transport.settle()
    clock.advance(4.9)
    transport.settle()
    assert rec.seen.get() == []
    clock.advance(0.1)
    transport.settle()
    assert [e.body.agent_id for e in rec.seen.get()] == ["timer"]


def test_a_cancelled_timer_never_fires(transport, clock, rec) -> None:
    transport.publish(_env(UnregisterAgent("set")))
    transport.publish(_env(UnregisterAgent("cancel"), id_="m2"))
    transport.settle()
    clock.advance(10)
    transport.settle()
    assert rec.seen.get() == []


def test_a_message_is_redelivered_when_its_actor_stops_before_acking() -> None:
    transport = MemoryTransport(VirtualClock())
    started, release = threading.Event(), threading.Event()

    class Slow(Actor):
        @on(PongAgent)
        def pong(self, msg: PongAgent) -> None:
            started.set()
            release.wait(5)
            raise SystemExit  # dies without returning: no ack

    ref = Slow.start("slow", transport)
    transport.publish(_env(PongAgent("p"), target="slow"))
    assert started.wait(5)
    transport.unsubscribe("slow")  # the process is gone; the broker requeues
    release.set()
    ref.stop()
    assert transport.pending("slow") == 1

    got = []

    class Fresh(Actor):
        @on(PongAgent)
        def pong(self, msg: PongAgent) -> None:
            got.append(msg)

    fresh = Fresh.start("slow", transport)
    transport.settle()
    fresh.stop()
    assert got == [PongAgent("p")]


def test_messages_of_a_deposed_leader_are_ignored_and_a_newer_leader_is_followed(transport, rec) -> None:
    rec.leader_address = "master"
    for n, epoch in enumerate([5, 3, 6, 5, 0], 1):
        transport.publish(Envelope(id=f"e{n}", sender="master", target="rec", body=PongAgent(f"epoch{epoch}"), epoch=epoch))
    transport.publish(_env(PongAgent("not the leader"), sender="agent.x"))
    transport.settle()
    assert [e.body.agent_id for e in rec.seen.get()] == ["epoch5", "epoch6", "not the leader"]
    assert rec.leader_epoch.get() == 6 and rec.counters.get()["stale_leader"] == 3
    assert transport.dead_letters == []  # ignored, not failed: nothing to see in mesobus.dead


def test_a_group_broadcast_is_copied_to_every_member_and_dropped_without_members(transport) -> None:
    got: list[str] = []
    for address in ("a", "b"):
        transport.subscribe(address, lambda d: (got.append(d.address), transport.ack(d)), groups=("group.all",))
    transport.publish(_env(PongAgent("x"), target="group.all"))
    transport.publish(_env(PongAgent("y"), target="group.none"))
    transport.settle()
    assert sorted(got) == ["a", "b"] and transport.dead_letters == []
    transport.unsubscribe("a")
    transport.publish(_env(PongAgent("z"), target="group.all"))
    transport.settle()
    assert sorted(got) == ["a", "b", "b"]
    with pytest.raises(ValueError, match="not a group address"):
        transport.subscribe("c", lambda d: None, groups=("all",))


def test_a_handler_sees_the_verified_publisher_not_the_envelopes_sender():
    from actors.runtime import MemoryTransport
    from messages import Envelope, PingAgent

    seen = []

    class Who(Actor):
        @on(PingAgent)
        def ping(self, msg):
            seen.append((self.envelope.sender, self.sender_user))

    transport = MemoryTransport(user="master-principal")
    ref = Who.start("agent.a", transport)
    try:
        forged = Envelope(id="1", sender="master", target="agent.a", body=PingAgent(connected=True))
        transport.as_user("mallory").publish(forged)
        transport.publish(forged._replace(id="2"))
        transport.settle()
    finally:
        ref.stop()
    assert seen == [("master", "mallory"), ("master", "master-principal")]
