"""msgpack codec for envelopes: `encode(envelope) -> bytes`, `decode(bytes) -> envelope`.

>>> from messages.agent import PongAgent
>>> env = Envelope(id="m1", sender="agent.a1", target="master", body=PongAgent("a1"))
>>> decode(encode(env)) == env
True
>>> decode(b"junk")
Traceback (most recent call last):
...
messages.errors.MessageError: envelope: not msgpack: ...
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from messages.catalogue import CATALOGUE, lookup
from messages.envelope import FORMAT_VERSION, Envelope
from messages.errors import MessageError
from messages.schema import from_plain, to_plain

# Short keys: the envelope rides on every message.
_KEYS = (
    ("id", "i", str),
    ("sender", "s", str),
    ("target", "t", str),
    ("correlation_id", "c", str),
    ("causation_id", "k", str),
    ("epoch", "e", int),
    ("sent_at", "a", (int, float)),
)


def encode(envelope: Envelope) -> bytes:
    """Serialize an envelope and its body; raises MessageError if it cannot be."""
    try:
        return _pack(envelope)
    except (TypeError, ValueError, OverflowError) as err:
        raise MessageError(f"cannot encode: {err}", message=envelope.type) from None


class _Packer(threading.local):
    """One msgpack Packer per thread: msgpack.packb() builds a new Packer on every call,
    which costs about as much as packing a small envelope. (pack() resets the packer
    after an error, so a failed encode leaves nothing behind.)"""

    def __init__(self) -> None:
        self.pack = msgpack.Packer(use_bin_type=True).pack


_packer = _Packer()
_new_envelope = tuple.__new__


def _pack(envelope: Envelope) -> bytes:
    i, s, t, body, c, k, e, a, v = envelope  # a NamedTuple: unpacking beats 9 lookups
    return _packer.pack(
        {"v": v, "y": type(body).__name__, "i": i, "s": s, "t": t, "c": c, "k": k, "e": e, "a": a, "b": to_plain(body)}
    )


def decode(data: bytes) -> Envelope:
    """Parse and validate; any problem raises MessageError naming the message and field."""
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as err:  # msgpack raises several unrelated types
        raise MessageError(f"not msgpack: {err}", message="envelope") from None
    return decode_map(raw)


def decode_map(raw: Any) -> Envelope:
    """Validate an already unpacked envelope map (journal readers unpack in bulk)."""
    try:  # the fast path: every field present with the right type
        version = raw["v"]
        cls = CATALOGUE[raw["y"]]
        body, i, s, t, c, k, e, a = raw["b"], raw["i"], raw["s"], raw["t"], raw["c"], raw["k"], raw["e"], raw["a"]
    except (KeyError, TypeError):
        return _decode_checked(raw)
    if not (
        type(version) is int and version >= 1
        and type(i) is str and type(s) is str and type(t) is str and type(c) is str and type(k) is str
        and type(e) is int and (type(a) is float or type(a) is int)
    ):
        return _decode_checked(raw)
    if version > FORMAT_VERSION:
        version = FORMAT_VERSION
    # tuple.__new__ directly: Envelope(...) goes through the NamedTuple's Python __new__
    return _new_envelope(Envelope, (i, s, t, from_plain(cls, body), c, k, e, a, version))


def _decode_checked(raw: Any) -> Envelope:
    """The slow path: find what is wrong and say so (or decode what is merely unusual)."""
    if not isinstance(raw, dict):
        raise MessageError("not a map", message="envelope")
    version = raw.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MessageError(f"bad format version {version!r}", message="envelope", field="v")
    name = raw.get("y")
    try:
        cls = lookup(name)
    except MessageError as err:
        raise MessageError(err.reason, message="envelope", field="type") from None
    fields: dict[str, Any] = {}
    for attr, key, kind in _KEYS:
        value = raw.get(key)
        if value is None:
            raise MessageError("required field missing", message=name, field=attr)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise MessageError(f"bad type {type(value).__name__}", message=name, field=attr)
        fields[attr] = value
    body = from_plain(cls, raw.get("b"))
    return Envelope(body=body, version=min(version, FORMAT_VERSION), **fields)
