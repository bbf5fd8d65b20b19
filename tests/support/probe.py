"""A test-only message: a numbered probe. Both sides of a multi-process test import it.

>>> from messages import Envelope, decode, encode
>>> env = Envelope(id="1", sender="a", target="b", body=TransportProbe(seq=7, run="r1"))
>>> decode(encode(env)).body
TransportProbe(seq=7, run='r1')
"""

from __future__ import annotations

from dataclasses import dataclass

from messages import message


# test -> test actor: the seq-th message of run `run` (tests count, order and dedupe them).
@message
@dataclass(frozen=True)
class TransportProbe:
    seq: int
    run: str = ""
