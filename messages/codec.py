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
from messages.errors import MessageError, shown
from messages.limits import MAX_ADDRESS_BYTES, MAX_ENVELOPE_ID_BYTES, MAX_MESSAGE_BYTES, utf8_fits
from messages.schema import from_plain, to_plain

# Short keys: the envelope rides on every message. (attribute, key, type, byte limit)
_KEYS = (
    ("id", "i", str, MAX_ENVELOPE_ID_BYTES),
    ("sender", "s", str, MAX_ADDRESS_BYTES),
    ("target", "t", str, MAX_ADDRESS_BYTES),
    ("correlation_id", "c", str, MAX_ENVELOPE_ID_BYTES),
    ("causation_id", "k", str, MAX_ENVELOPE_ID_BYTES),
    ("epoch", "e", int, 0),
    ("sent_at", "a", (int, float), 0),
)
_SURELY_FITS = min(MAX_ADDRESS_BYTES, MAX_ENVELOPE_ID_BYTES) // 4  # chars that fit whatever they are


def encode(envelope: Envelope) -> bytes:
    """Serialize an envelope and its body; raises MessageError if it cannot be, or if no
    reader would take it: an address over AMQP's 255-byte routing key, a message over
    MAX_MESSAGE_BYTES (so a publisher refuses it at once instead of sending it)."""
    target, sender = envelope.target, envelope.sender
    if not (len(target) <= _SURELY_FITS or utf8_fits(target, MAX_ADDRESS_BYTES)):
        raise MessageError(f"the address is over {MAX_ADDRESS_BYTES} bytes", message=envelope.type, field="target")
    if not (len(sender) <= _SURELY_FITS or utf8_fits(sender, MAX_ADDRESS_BYTES)):
        raise MessageError(f"the address is over {MAX_ADDRESS_BYTES} bytes", message=envelope.type, field="sender")
    try:
        data = _pack(envelope)
    except (TypeError, ValueError, OverflowError) as err:
        raise MessageError(f"cannot encode: {err}", message=envelope.type) from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError(f"{len(data)} bytes, more than {MAX_MESSAGE_BYTES}", message=envelope.type)
    return data


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
    """Parse and validate; any problem raises MessageError naming the message and field.
    Sizes are checked before work: the whole message, then each field."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError(f"{len(data)} bytes, more than {MAX_MESSAGE_BYTES}", message="envelope")
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
        and (len(i) <= _SURELY_FITS or utf8_fits(i, MAX_ENVELOPE_ID_BYTES))
        and (len(s) <= _SURELY_FITS or utf8_fits(s, MAX_ADDRESS_BYTES))
        and (len(t) <= _SURELY_FITS or utf8_fits(t, MAX_ADDRESS_BYTES))
        and (len(c) <= _SURELY_FITS or utf8_fits(c, MAX_ENVELOPE_ID_BYTES))
        and (len(k) <= _SURELY_FITS or utf8_fits(k, MAX_ENVELOPE_ID_BYTES))
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
        raise MessageError(f"bad format version {shown(version)}", message="envelope", field="v")
    name = raw.get("y")
    try:
        cls = lookup(name)
    except MessageError as err:
        raise MessageError(err.reason, message="envelope", field="type") from None
    fields: dict[str, Any] = {}
    for attr, key, kind, limit in _KEYS:
        value = raw.get(key)
        if value is None:
            raise MessageError("required field missing", message=name, field=attr)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise MessageError(f"bad type {type(value).__name__}", message=name, field=attr)
        if limit and not utf8_fits(value, limit):
            raise MessageError(f"over {limit} bytes", message=name, field=attr)
        if attr == "sent_at" and value != value:
            raise MessageError("not a number", message=name, field=attr)
        fields[attr] = value
    body = from_plain(cls, raw.get("b"))
    return Envelope(body=body, version=min(version, FORMAT_VERSION), **fields)
