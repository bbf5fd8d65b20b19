"""`--no-journal` means no journal work: an actor on a transport that keeps no journal
builds no journal record at all (no handled-order entries gathered, no `ActorStarted`,
no `InputsHandled`, nothing handed to the transport), and one that keeps a journal still
writes them all."""

from __future__ import annotations

import pytest

import actors.runtime.actor as runtime_actor
from actors.runtime import Actor, MemoryTransport, VirtualClock, on
from messages import Envelope, PingAgent, PongAgent


class Journaled(Actor):
    journal_kind = "journaled"
    started: list["Journaled"] = []

    def on_start(self) -> None:
        Journaled.started.append(self)
        super().on_start()

    @on(PingAgent)
    def ping(self, msg: PingAgent) -> None:
        self.reply(PongAgent(agent_id="a"))


@pytest.fixture
def built(monkeypatch):
    """Counts the journal records the runtime builds, by type."""
    counts = {"ActorStarted": 0, "InputsHandled": 0}
    for name in counts:
        real = getattr(runtime_actor, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            counts[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(runtime_actor, name, counting)
    return counts


def run_pings(transport: MemoryTransport, clock: VirtualClock, pings: int) -> Journaled:
    transport.subscribe("client", transport.ack)
    ref = Journaled.start("journaled", transport)
    for i in range(pings):
        transport.publish(Envelope(id=f"p{i}", sender="client", target="journaled", body=PingAgent()))
    transport.settle()
    clock.advance(Journaled.journal_flush_seconds + 1)  # the flush timer, if any was armed
    transport.settle()
    ref.stop()
    actor = Journaled.started.pop()
    return actor


def test_without_a_journal_no_record_is_built_or_recorded(built, monkeypatch):
    clock = VirtualClock(start=10.0)
    transport = MemoryTransport(clock)
    recorded = []
    monkeypatch.setattr(transport, "record", recorded.append)
    actor = run_pings(transport, clock, 300)  # more than journal_flush_every
    assert actor.counters["received"] == 300
    assert built == {"ActorStarted": 0, "InputsHandled": 0}
    assert recorded == [] and actor._handled_ids == [] and actor._journal_seq == 0


def test_with_a_journal_every_handled_input_is_recorded(built):
    clock = VirtualClock(start=10.0)
    transport = MemoryTransport(clock)
    records = []
    transport.taps.append(lambda envelope, _body: records.append(envelope.body))
    run_pings(transport, clock, 300)
    handled = [r for r in records if type(r).__name__ == "InputsHandled"]
    assert built["ActorStarted"] == 1 and built["InputsHandled"] == len(handled) >= 2
    assert sum(len(r.ids) for r in handled) == 300
