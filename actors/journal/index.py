"""An in-memory index of a journal: messages by id, causes, actors' incarnations.

>>> from messages import Envelope, PongAgent, PingAgent
>>> idx = JournalIndex([
...     Envelope(id="m1", sender="master", target="agent.a", body=PingAgent()),
...     Envelope(id="m2", sender="agent.a", target="master", body=PongAgent("a"), causation_id="m1"),
... ])
>>> [e.id for e in idx.ancestors("m2")], idx.children["m1"]
(['m1'], ['m2'])
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from messages import JOURNAL, ActorStarted, Envelope, InputsHandled


@dataclass
class Incarnation:
    """One run of one actor: how it started and what it handled, in order."""

    started: Envelope  # its ActorStarted record
    handled: list[tuple[str, float]] = field(default_factory=list)  # (message id, time)
    # Its own journal records are numbered (<prefix>.j1 is ActorStarted, then j2, j3...):
    # the numbers seen tell whether the journal holds its history from its start.
    record_numbers: list[int] = field(default_factory=list)
    # len(handled) at each of its records, to find where a gap in them falls
    handled_before: dict[int, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # message id -> its verified publisher

    @property
    def info(self) -> ActorStarted:
        return self.started.body

    @property
    def prefix(self) -> str:
        return self.info.id_prefix

    def history_gap(self) -> tuple[int, int] | None:
        """Where the journal lacks some of this incarnation's records: (how many handled
        inputs are known before the gap, the first record number missing); None when its
        records run unbroken from its start. A journal that begins after the actor started
        (an export of a later window) lacks its first ones: (0, 2)."""
        expected = 2
        for number in sorted(set(self.record_numbers)):
            if number != expected:
                return self.handled_before.get(number, 0) if expected > 2 else 0, expected
            expected += 1
        return None


class JournalIndex:
    def __init__(self, records: Iterable[Envelope]) -> None:
        self.records: list[Envelope] = []  # everything, in journal order
        self.messages: list[Envelope] = []  # actor-to-actor messages only
        self.by_id: dict[str, Envelope] = {}
        self.offset: dict[str, int] = {}
        self.children: dict[str, list[str]] = defaultdict(list)
        self.incarnations: dict[str, list[Incarnation]] = defaultdict(list)
        self._by_prefix: dict[str, Incarnation] = {}
        for record in records:
            self.add(record)

    def add(self, record: Envelope) -> None:
        self.offset.setdefault(record.id, len(self.records))
        self.records.append(record)
        if record.target != JOURNAL:
            if record.id in self.by_id:
                return  # a redelivered duplicate
            self.by_id[record.id] = record
            self.messages.append(record)
            if record.causation_id:
                self.children[record.causation_id].append(record.id)
            return
        body = record.body
        if isinstance(body, ActorStarted):
            incarnation = Incarnation(record)
            self.incarnations[body.address].append(incarnation)
            self._by_prefix[body.id_prefix] = incarnation
            return
        prefix, _, number = record.id.rpartition(".j")
        incarnation = self._by_prefix.get(prefix)
        if incarnation is None:
            return
        if number.isdigit():
            if int(number) in incarnation.handled_before:
                return  # the same record twice (a journal batch sent again after an outage)
            incarnation.record_numbers.append(int(number))
            incarnation.handled_before[int(number)] = len(incarnation.handled)
        if isinstance(body, InputsHandled):
            incarnation.handled.extend(zip(body.ids, body.times))
            incarnation.users.update(zip(body.ids, body.users))

    def ancestors(self, message_id: str) -> list[Envelope]:
        """The causal chain above a message, oldest first (the message not included)."""
        chain: list[Envelope] = []
        seen = {message_id}
        current = self.by_id.get(message_id)
        while current is not None and current.causation_id and current.causation_id not in seen:
            seen.add(current.causation_id)
            current = self.by_id.get(current.causation_id)
            if current is not None:
                chain.append(current)
        chain.reverse()
        return chain

    def journal_records(self, kind: type) -> list[Envelope]:
        return [r for r in self.records if r.target == JOURNAL and isinstance(r.body, kind)]

    def actors(self) -> list[str]:
        return sorted(self.incarnations)
