"""Journal and replay on a small stateful actor: a recorded run replays exactly, and a
changed handler is caught at the first message where its output differs."""

from __future__ import annotations

import pytest

from actors.journal import FileJournal, JournalIndex, read_journal_file, replay
from actors.runtime import Actor, MemoryTransport, VirtualClock, on
from messages import Envelope, PingAgent, PongAgent


class Counter(Actor):
    """Answers every ping with its running count and the time, and a fresh id."""

    journal_kind = "counter"

    def __init__(self, address, transport, context=None, step: int = 1):
        super().__init__(address, transport, context)
        self.step = step
        self.count = 0

    def journal_config(self) -> dict:
        return {"step": self.step}

    @classmethod
    def from_journal(cls, config, transport, context):
        return cls("counter", transport, context, **config)

    @on(PingAgent)
    def ping(self, msg: PingAgent) -> None:
        self.count += self.step
        self.reply(PongAgent(agent_id=f"{self.count}@{self.now():.1f}/{self.new_id()}"))

    def state(self) -> dict:
        return {"count": self.count}


class Skewed(Counter):
    """The same actor with a bug from the 4th ping on."""

    @on(PingAgent)
    def ping(self, msg: PingAgent) -> None:
        self.count += self.step if self.count < 3 else 2
        self.reply(PongAgent(agent_id=f"{self.count}@{self.now():.1f}/{self.new_id()}"))


@pytest.fixture
def recorded(tmp_path):
    path = str(tmp_path / "journal.msgpack")
    clock = VirtualClock(start=100.0)
    transport = MemoryTransport(clock)
    journal = FileJournal(path)
    transport.taps.append(journal.tap)
    transport.subscribe("client", transport.ack)
    ref = Counter.start("counter", transport)
    for i in range(6):
        transport.publish(Envelope(id=f"p{i}", sender="client", target="counter", body=PingAgent()))
        transport.settle()
        clock.advance(1.5)
    ref.stop()
    journal.close()
    return JournalIndex(read_journal_file(path))


def test_a_recorded_run_replays_with_no_divergence(recorded) -> None:
    result = replay(recorded, "counter", factory=Counter.from_journal)
    assert result.matched, result.divergence.report()
    assert (result.inputs, result.outputs, result.state) == (6, 6, {"count": 6})


def test_a_changed_handler_is_caught_at_the_first_message_it_answers_differently(recorded) -> None:
    result = replay(recorded, "counter", factory=Skewed.from_journal)
    assert not result.matched
    assert result.divergence.input.id == "p3"
    assert result.divergence.expected.body.agent_id.startswith("4@")
    assert result.divergence.actual.body.agent_id.startswith("5@")
    assert "first divergence while handling input" in result.divergence.report()[0]


def test_replay_until_stops_after_that_message_and_shows_the_state(recorded) -> None:
    result = replay(recorded, "counter", until="p2", factory=Counter.from_journal)
    assert result.matched and result.state == {"count": 3}


def test_replaying_an_actor_the_journal_never_saw_names_the_ones_it_did(recorded) -> None:
    with pytest.raises(KeyError, match="recorded actors: counter"):
        replay(recorded, "master")


class ChattyCounter(Counter):
    """Writes its handling order after every second input: several records to lose."""

    journal_flush_every = 2


@pytest.fixture
def records(tmp_path):
    path = str(tmp_path / "journal.msgpack")
    clock = VirtualClock(start=100.0)
    transport = MemoryTransport(clock)
    journal = FileJournal(path)
    transport.taps.append(journal.tap)
    transport.subscribe("client", transport.ack)
    ref = ChattyCounter.start("counter", transport)
    for i in range(6):
        transport.publish(Envelope(id=f"p{i}", sender="client", target="counter", body=PingAgent()))
        transport.settle()
        clock.advance(1.5)
    ref.stop()
    journal.close()
    return list(read_journal_file(path))


def _without(records, record_id):
    assert any(r.id == record_id for r in records)
    return JournalIndex(r for r in records if r.id != record_id)


def test_a_journal_without_the_actors_first_records_cannot_replay_it(records) -> None:
    prefix = next(r.body.id_prefix for r in records if r.type == "ActorStarted")
    result = replay(_without(records, f"{prefix}.j2"), "counter", factory=ChattyCounter.from_journal)
    assert not result.matched and result.divergence is None and result.inputs == 0
    assert "does not hold its history from its start" in result.incomplete
    assert "records from #2 on are missing" in result.incomplete


def test_a_gap_in_the_actors_records_stops_the_replay_there_without_a_divergence(records) -> None:
    prefix = next(r.body.id_prefix for r in records if r.type == "ActorStarted")
    result = replay(_without(records, f"{prefix}.j3"), "counter", factory=ChattyCounter.from_journal)
    assert not result.matched and result.divergence is None
    assert 0 < result.inputs < 6
    assert result.incomplete == f"the journal lacks its records from #3 on, after input #{result.inputs}"


def test_a_missing_input_stops_the_replay_without_a_divergence(records) -> None:
    result = replay(_without(records, "p3"), "counter", factory=ChattyCounter.from_journal)
    assert not result.matched and result.divergence is None
    assert result.inputs == 3 and result.incomplete == "input #4 (p3) is not in the journal"


def test_a_record_read_twice_is_counted_once(records) -> None:
    doubled = JournalIndex(records + [r for r in records if r.type == "InputsHandled"])
    result = replay(doubled, "counter", factory=ChattyCounter.from_journal)
    assert result.matched and result.inputs == 6
