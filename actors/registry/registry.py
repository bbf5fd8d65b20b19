"""`Registry`: the state a leader starts from, and every change written before it is used.

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

import dataclasses
import logging
from typing import Iterable

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

    @classmethod
    def recover(cls, log_: RegistryLog, epoch: int = 0) -> "Registry":
        """Read the whole log (no election: an embedded master, alone by construction)."""
        state, _ = fold(log_.read())
        return cls(log_, state, epoch)

    @classmethod
    def elect(cls, log_: RegistryLog, holder: str, nonce: str) -> "Registry":
        """Append this leader's `Elected` record, read the log up to it: the state it
        starts from, and its epoch (the record's offset + 1)."""
        log_.append(Elected(holder, nonce))
        state, epoch = fold(log_.read(until=lambda r: isinstance(r, Elected) and r.nonce == nonce), nonce)
        if not epoch:
            raise RegistryError(f"the registry did not give back the election record of {holder}")
        registry = cls(log_, state, epoch)
        log.info("registry: %s elected with epoch %d", holder, epoch)
        return registry

    def write(self, record: object) -> None:
        """Append (durably) then apply. Raises RegistryError if the log cannot take it;
        the caller then must not act on the change."""
        if dataclasses.is_dataclass(record) and hasattr(record, "epoch"):
            record = dataclasses.replace(record, epoch=self.epoch)
        self.log.append(record)
        self.state.apply(record)
        self.written += 1
        if self.written >= SNAPSHOT_EVERY:
            self.snapshot()

    def snapshot(self) -> None:
        """Write everything as one record: later start-ups fold from there."""
        self.log.append(self.state.snapshot(self.epoch))
        self.log.append(self.state.bindings(self.epoch))  # kept apart: RegistrySnapshot has no field for them
        self.written = 0


def fold(records: Iterable[tuple[int, object]], nonce: str = "") -> tuple[RegistryState, int]:
    """The state after `records` (skipping stale writers), and the epoch of the
    `Elected` record with `nonce` (0 if not seen)."""
    state = RegistryState()
    current, mine = 0, 0
    for offset, record in records:
        if isinstance(record, Elected):
            current = offset + 1
            if nonce and record.nonce == nonce:
                mine = current
            continue
        if getattr(record, "epoch", 0) < current:
            log.info("registry: skipping %s of a deposed leader (epoch %d < %d)",
                     type(record).__name__, record.epoch, current)  # type: ignore[attr-defined]
            continue
        if isinstance(record, RegistrySnapshot):
            state = RegistryState()
        state.apply(record)
    return state, mine
