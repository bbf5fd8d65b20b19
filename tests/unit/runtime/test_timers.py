"""Timers never depend on the transport: a due timer goes straight to its own actor,
is journaled as an input, survives an outage of the transport, and replays with the
principal that each input came from."""

from __future__ import annotations

import pytest

from actors.journal import FileJournal, JournalIndex, read_journal_file, replay
from actors.runtime import Actor, MemoryTransport, TransportError, VirtualClock, on
from actors.runtime.actor import OUTBOX_RETRY_SECONDS
from messages import Envelope, PingAgent, PongAgent, UnregisterAgent, decode, encode


class BrokerDown(MemoryTransport):
    """A memory transport whose publishing fails while `down` (as a broker transport's
    publish does after send_timeout in an outage)."""

    down = False

    def publish_raw(self, address, body, envelope=None, *, user_id=None):
        if self.down:
            raise TransportError("cannot publish: no connection (test outage)")
        super().publish_raw(address, body, envelope, user_id=user_id)


class Ticker(Actor):
    """A self-rescheduling chain: every tick re-arms itself, then reports to `monitor`."""

    journal_kind = "ticker"

    def __init__(self, address, transport, context=None):
        super().__init__(address, transport, context)
        self.ticks = 0
        self.users: list[str] = []

    def on_start(self) -> None:
        super().on_start()
        self.delay(1.0, PingAgent())

    @classmethod
    def from_journal(cls, config, transport, context):
        return cls("ticker", transport, context)

    @on(PingAgent)
    def tick(self, msg: PingAgent) -> None:
        self.users.append(self.sender_user)
        if self.envelope.sender == self.address:  # a tick: re-arm before reporting
            self.ticks += 1
            self.delay(1.0, PingAgent())
            self.send("monitor", PongAgent(agent_id=f"tick {self.ticks}"))
        else:
            self.reply(PongAgent(agent_id=f"asked by {self.sender_user}"))

    @on(UnregisterAgent)
    def arm_and_cancel(self, msg: UnregisterAgent) -> None:
        timer = self.delay(0.5, PongAgent(agent_id="never"))
        if msg.agent_id == "cancel":
            self.cancel(timer)

    @on(PongAgent)
    def pong(self, msg: PongAgent) -> None:
        self.users.append(f"pong {msg.agent_id}")


@pytest.fixture
def down_transport():
    t = BrokerDown(VirtualClock(start=1_000.0), user="ticker-user")
    got: list = []
    t.subscribe("monitor", lambda d: (got.append(decode(d.body).body), t.ack(d)))
    t.got = got
    yield t
    t.close()


def test_a_timer_reaches_its_actor_while_the_transport_cannot_publish(down_transport) -> None:
    ref = Ticker.start("ticker", down_transport)
    down_transport.down = True
    down_transport.clock.advance(1.0)
    assert ref.proxy().users.get() == ["ticker-user"]  # handled, as the actor's own principal
    ref.stop()


def test_a_timer_chain_outlives_an_outage_and_nothing_it_sent_is_lost(down_transport) -> None:
    clock = down_transport.clock
    ref = Ticker.start("ticker", down_transport)
    proxy = ref.proxy()
    clock.advance(1.0)
    down_transport.settle()
    assert down_transport.got == [PongAgent("tick 1")]
    down_transport.down = True  # for 10 s, nothing can be published
    for _ in range(10):
        clock.advance(1.0)
        proxy.ticks.get()  # each tick handled (the handler never saw the outage)
    assert proxy.ticks.get() == 11 and down_transport.got == [PongAgent("tick 1")]
    down_transport.down = False
    clock.advance(OUTBOX_RETRY_SECONDS)
    down_transport.settle()
    # What the ticks sent in the outage went out after it, in order; the chain goes on.
    assert down_transport.got == [PongAgent(f"tick {i}") for i in range(1, 13)]
    for _ in range(5):
        clock.advance(1.0)
        down_transport.settle()
    assert down_transport.got[-1] == PongAgent("tick 17")
    ref.stop()


def test_a_timer_cancelled_after_it_was_due_is_not_handled(transport, clock) -> None:
    ref = Ticker.start("ticker", transport)
    transport.publish(Envelope(id="c1", sender="t", target="ticker", body=UnregisterAgent("cancel")))
    transport.settle()
    clock.advance(0.5)
    transport.settle()
    assert not any(u.startswith("pong") for u in ref.proxy().users.get())
    ref.stop()


def test_timers_and_the_senders_principals_are_journaled_and_replay_the_same(tmp_path) -> None:
    path = str(tmp_path / "journal.msgpack")
    clock = VirtualClock(start=100.0)
    transport = MemoryTransport(clock, user="ticker-user")
    journal = FileJournal(path)
    transport.taps.append(journal.tap)
    transport.subscribe("monitor", transport.ack)
    transport.subscribe("client", transport.ack)
    ref = Ticker.start("ticker", transport)
    client = transport.as_user("alice")
    for i in range(4):
        clock.advance(1.0)
        client.publish(Envelope(id=f"p{i}", sender="client", target="ticker", body=PingAgent()))
        transport.settle()
    users = ref.proxy().users.get()
    ref.stop()
    journal.close()
    assert users.count("alice") == 4 and users.count("ticker-user") == 4

    index = JournalIndex(read_journal_file(path))
    timers = [e for e in index.messages if e.sender == "ticker" and e.target == "ticker"]
    assert len(timers) == 4  # each handled timer is in the journal, as a message to itself
    result = replay(index, "ticker", factory=Ticker.from_journal)
    assert result.matched, result.divergence.report()
    assert result.inputs == 8 and result.actor.users == users  # same principals, same order


def test_a_reply_that_meets_an_outage_waits_and_its_input_is_acked_only_after_it(down_transport) -> None:
    clock = down_transport.clock
    ref = Ticker.start("ticker", down_transport)
    down_transport.subscribe("client", lambda d: (down_transport.got.append(decode(d.body).body), down_transport.ack(d)))
    down_transport.down = True
    MemoryTransport.publish_raw(down_transport, "ticker", encode(
        Envelope(id="q1", sender="client", target="ticker", body=PingAgent())))
    assert ref.proxy().users.get() == ["ticker-user"]  # handled while nothing can be sent
    assert down_transport.pending("ticker") == 1  # ... but not acked: its reply waits
    down_transport.down = False
    clock.advance(OUTBOX_RETRY_SECONDS)
    down_transport.settle()
    assert down_transport.pending("ticker") == 0
    assert PongAgent("asked by ticker-user") in down_transport.got
    ref.stop()
