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


def _pack(envelope: Envelope) -> bytes:
    return msgpack.packb(
        {
            "v": envelope.version,
            "y": envelope.type,
            "i": envelope.id,
            "s": envelope.sender,
            "t": envelope.target,
            "c": envelope.correlation_id,
            "k": envelope.causation_id,
            "e": envelope.epoch,
            "a": envelope.sent_at,
            "b": to_plain(envelope.body),
        },
        use_bin_type=True,
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
        version, name, body = raw["v"], raw["y"], raw["b"]
        fields = (raw["i"], raw["s"], raw["t"], raw["c"], raw["k"], raw["e"], raw["a"])
        cls = CATALOGUE[name]
    except (KeyError, TypeError):
        return _decode_checked(raw)
    i, s, t, c, k, e, a = fields
    if not (
        type(version) is int and version >= 1
        and type(i) is str and type(s) is str and type(t) is str and type(c) is str and type(k) is str
        and type(e) is int and (type(a) is float or type(a) is int)
    ):
        return _decode_checked(raw)
    return Envelope(i, s, t, from_plain(cls, body), c, k, e, a, min(version, FORMAT_VERSION))


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
