"""What a handler may read besides its message: the time, new ids, randomness.

Handlers take these from their actor's context only, so tests can use a virtual clock
and a recorded run can be replayed exactly (design.md §4).
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass, field

from actors.runtime.clock import Clock, RealClock


class IdSource:
    """Ids unique across processes: a random prefix per incarnation and a counter.

    >>> ids = IdSource("ab12")
    >>> ids.new_id(), ids.new_id()
    ('ab12-1', 'ab12-2')
    """

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or os.urandom(6).hex()
        self._counter = itertools.count(1)

    def new_id(self) -> str:
        return f"{self.prefix}-{next(self._counter)}"


@dataclass
class ActorContext:
    clock: Clock = field(default_factory=RealClock)
    ids: IdSource = field(default_factory=IdSource)
    seed: int | None = None
    random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = int.from_bytes(os.urandom(4), "big")
        self.random = random.Random(self.seed)
