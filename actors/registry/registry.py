"""`Registry`: the state a leader starts from, and every change written before it is used.

Written alone, a change is durable before `write` returns. Written by an actor
(`defer_flush` set to its `Actor.hold_output_until`), it is applied at once and only
staged: the actor holds back everything it sends and acknowledges from then on, and
at the end of its burst of messages `flush()` makes all the burst's changes durable
with one wait before any of that output leaves (a failed flush releases none of it).

Fencing: each record carries the epoch of the master that wrote it; reading, a record
older than the newest `Elected` read before it is skipped (a deposed leader that wrote
after its successor was elected). An `Elected` record's epoch is its offset + 1, so
epochs grow with the log by construction, whatever the hosts' clocks say.

>>> from actors.registry.log import MemoryRegistryLog
>>> from messages.registry import WeightsSet
>>> log = MemoryRegistryLog()
>>> first = Registry.elect(log, "m1", "n1"); first.epoch
1
>>> first.write(WeightsSet({"web": 2.0}))
>>> second = Registry.elect(log, "m2", "n2"); second.epoch, second.state.weights
(3, {'web': 2.0})
>>> first.write(WeightsSet({"web": 9.0}))   # the deposed one, still writing
>>> Registry.elect(log, "m3", "n3").state.weights
{'web': 2.0}
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable

from actors.registry.log import RegistryError, RegistryLog
from actors.registry.state import RegistryState
from messages.registry import Elected, RegistrySnapshot

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 1000  # records written between snapshots


class Registry:
    def __init__(self, log_: RegistryLog, state: RegistryState | None = None, epoch: int = 0) -> None:
        self.log = log_
        self.state = state or RegistryState()
        self.epoch = epoch
        self.written = 0  # records written by this leader since its last snapshot
        # Set by the actor that writes (its `hold_output_until`): writes are then made
        # durable by `flush()` at the end of its burst, before its output leaves.
        self.defer_flush: Callable[[Callable[[], None]], None] | None = None
        self._unflushed = False

    @classmethod
    def recover(cls, log_: RegistryLog, epoch: int = 0) -> "Registry":
        """Read the whole log (no election: an embedded master, alone by construction)."""
        state, _ = fold(log_.read())
        return cls(log_, state, epoch)

    @classmethod
    def elect(cls, log_: RegistryLog, holder: str, nonce: str, known: "Folded | None" = None) -> "Registry":
        """Append this leader's `Elected` record, read the log up to it: the state it
        starts from, and its epoch (the record's offset + 1). `known`: what a standby
        already folded (`RegistryFollower`), so that only the records after it are read."""
        log_.append(Elected(holder, nonce))
        folded = copy.deepcopy(known) if known is not None else Folded()
        until = lambda r: isinstance(r, Elected) and r.nonce == nonce  # noqa: E731
        state, epoch = fold(log_.read(until=until, start=folded.next_offset), nonce, folded)
        if not epoch:
            raise RegistryError(f"the registry did not give back the election record of {holder}")
        registry = cls(log_, state, epoch)
        log.info("registry: %s elected with epoch %d", holder, epoch)
        return registry

    def write(self, record: object) -> None:
        """Append (durably: see the module docstring) then apply. Raises RegistryError
        if the log cannot take it; the caller then must not act on the change."""
        if dataclasses.is_dataclass(record) and hasattr(record, "epoch"):
            record = dataclasses.replace(record, epoch=self.epoch)
        self._log_write(record)
        self.state.apply(record)
        self.written += 1
        if self.written >= SNAPSHOT_EVERY:
            self.snapshot()

    def snapshot(self) -> None:
        """Write everything as one record: later start-ups fold from there."""
        self._log_write(self.state.snapshot(self.epoch))
        self._log_write(self.state.bindings(self.epoch))  # kept apart: RegistrySnapshot has no field for them
        self.written = 0

    def flush(self) -> None:
        """Make every change written so far durable (a no-op when none waits). Raises
        RegistryError otherwise: the writer must then not let out anything that relied on them."""
        if self._unflushed:
            self._unflushed = False
            self.log.flush()

    def _log_write(self, record: object) -> None:
        self.log.write(record)
        if self.defer_flush is None:
            self.log.flush()
        else:
            self._unflushed = True
            self.defer_flush(self.flush)


@dataclass
class Folded:
    """The registry's state after its records up to `next_offset`: what a standby keeps
    while it waits, so that, elected, it reads only the log's tail."""

    state: RegistryState = field(default_factory=RegistryState)
    current: int = 0  # the epoch of the newest `Elected` record folded: older writers are stale
    next_offset: int = 0  # the offset of the next record to read

    def add(self, offset: int, record: object, nonce: str = "") -> int:
        """Fold one record in; returns its epoch if it is the `Elected` record with `nonce`."""
        self.next_offset = max(self.next_offset, offset + 1)
        if isinstance(record, Elected):
            self.current = offset + 1
            return self.current if nonce and record.nonce == nonce else 0
        if getattr(record, "epoch", 0) < self.current:
            log.info("registry: skipping %s of a deposed leader (epoch %d < %d)",
                     type(record).__name__, record.epoch, self.current)  # type: ignore[attr-defined]
            return 0
        if isinstance(record, RegistrySnapshot):
            self.state = RegistryState()
        self.state.apply(record)
        return 0


def fold(records: Iterable[tuple[int, object]], nonce: str = "", folded: Folded | None = None) -> tuple[RegistryState, int]:
    """The state after `records` (skipping stale writers), and the epoch of the
    `Elected` record with `nonce` (0 if not seen); `folded` goes on from what it holds."""
    folded = folded if folded is not None else Folded()
    mine = 0
    for offset, record in records:
        if 0 <= offset < folded.next_offset:
            continue  # read already (a stream may hand back the start of its chunk)
        mine = folded.add(offset, record, nonce) or mine
    return folded.state, mine
