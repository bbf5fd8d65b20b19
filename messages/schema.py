"""Dataclass <-> plain data (what msgpack carries), with validation driven by type hints.

Each catalogue class is compiled once into a pair of functions; decoding checks every
field's type, fills defaults, ignores unknown fields (older readers survive newer
writers) and raises `MessageError` naming the message and the field.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Ping:
...     seq: int
...     note: str = ""
>>> to_plain(Ping(3)), from_plain(Ping, {"seq": 3, "extra": 1})
({'seq': 3, 'note': ''}, Ping(seq=3, note=''))
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Callable

from messages.errors import MessageError, ResourceError, shown
from messages.limits import MAX_DEPTH, MAX_ID_BYTES, MAX_TEXT_BYTES, depth_within, utf8_fits
from messages.resources import Resources

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any, str], Any]  # (plain value, field path) -> typed value


def to_plain(obj: Any) -> dict:
    """A catalogue dataclass as a dict of plain values."""
    codec = _CODECS.get(type(obj)) or _codec(type(obj))
    return codec[0](obj)


def from_plain(cls: type, data: Any) -> Any:
    """Build `cls` from plain data, validating every field; raises MessageError."""
    codec = _CODECS.get(cls) or _codec(cls)
    return codec[1](data, "")


_CODECS: dict[type, tuple[Encoder, Decoder]] = {}
_FAST = {str: "str", int: "int", bool: "bool", bytes: "bytes", float: "float"}  # exact-type fast paths
_MISSING = object()


def _codec(cls: type) -> tuple[Encoder, Decoder]:
    """Compile straight-line encode and decode functions for one catalogue class: one
    is built for every message on the hot path, so there is no per-field loop; any
    value that is not of the expected exact type goes through its full decoder, which
    converts it (an int for a float) or raises a MessageError naming the field."""
    codec = _CODECS.get(cls)
    if codec is not None:
        return codec
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    env: dict[str, Any] = {
        "cls": cls, "MessageError": MessageError, "MISSING": _MISSING, "name": cls.__name__, "fits": utf8_fits,
    }
    enc_parts, dec_lines = [], []
    for i, f in enumerate(fields):
        tp = hints[f.name]
        enc, dec = _for_type(tp)
        env[f"enc{i}"], env[f"dec{i}"] = enc, dec
        enc_parts.append(f"{f.name!r}: obj.{f.name}" if enc is _identity else f"{f.name!r}: enc{i}(obj.{f.name})")
        where = f"(path + '.{f.name}' if path else '{f.name}')"
        fast = _FAST.get(tp)
        check = f"type(v{i}) is not {fast}" if fast else "True"
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            absent = f"raise MessageError('required field missing', message=name, field={where})"
        elif f.default is not dataclasses.MISSING:
            env[f"default{i}"] = f.default
            absent = f"v{i} = default{i}"
        else:
            env[f"default{i}"] = f.default_factory
            absent = f"v{i} = default{i}()"
        dec_lines += [
            f"v{i} = data.get({f.name!r}, MISSING)",
            f"if v{i} is MISSING: {absent}",
            f"elif {check}: v{i} = dec{i}(v{i}, {where})",
        ]
        if tp is str:  # text on the fast path: bounded in bytes (ids more tightly)
            limit = _text_limit(f.name)
            dec_lines.append(  # inline, no call unless long or non-ASCII (the hot path)
                f"elif len(v{i}) > {limit // 4} and (len(v{i}) > {limit} or not v{i}.isascii()"
                f" and not fits(v{i}, {limit})): "
                f"raise MessageError('over {limit} bytes', message=name, field={where})"
            )
    env.update({"str": str, "int": int, "bool": bool, "bytes": bytes, "float": float})
    args = ", ".join(f"v{i}" for i in range(len(fields)))
    source = "\n".join(
        [
            "def encode(obj):",
            "    return {" + ", ".join(enc_parts) + "}",
            "def decode(data, path):",
            "    if type(data) is not dict:",
            "        raise MessageError(f'expected a map, got {type(data).__name__}', message=name, field=path)",
            "    try:",
            *["        " + line for line in dec_lines or ["pass"]],
            "    except MessageError as err:",
            "        raise MessageError(err.reason, message=name, field=err.field) from None",
            "    try:",
            f"        return cls({args})",
            "    except (TypeError, ValueError) as err:",
            "        raise MessageError(str(err), message=name, field=path) from None",
        ]
    )
    exec(compile(source, f"<codec {cls.__name__}>", "exec"), env)
    codec = _CODECS[cls] = (env["encode"], env["decode"])
    return codec


def _identity(value: Any) -> Any:
    return value


def _text_limit(field_name: str) -> int:
    """Ids (`*_id` fields) become addresses and file names: MAX_ID_BYTES; other text
    MAX_TEXT_BYTES."""
    return MAX_ID_BYTES if field_name.endswith("_id") else MAX_TEXT_BYTES


def _check(kind: type | tuple, label: str) -> Decoder:
    def decode(value: Any, path: str) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise MessageError(f"expected {label}, got bool", field=path)
        if not isinstance(value, kind):
            raise MessageError(f"expected {label}, got {type(value).__name__}", field=path)
        if kind is str and not utf8_fits(value, MAX_TEXT_BYTES):
            raise MessageError(f"over {MAX_TEXT_BYTES} bytes", field=path)
        return value

    return decode


def _decode_float(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MessageError(f"expected a number, got {type(value).__name__}", field=path)
    return float(value)


def _decode_any(value: Any, path: str) -> Any:
    """Free-form data (journal configs): any plain value, nested at most MAX_DEPTH deep."""
    if not depth_within(value, MAX_DEPTH):
        raise MessageError(f"nested more than {MAX_DEPTH} deep", field=path)
    return value


def _decode_resources(value: Any, path: str) -> Resources:
    if not isinstance(value, str):
        raise MessageError(f"expected resource text, got {type(value).__name__}", field=path)
    try:
        return Resources.parse(value)  # bounded in size and digits before parsing
    except ResourceError as err:
        raise MessageError(str(err), field=path) from None


_SIMPLE: dict[Any, tuple[Encoder, Decoder]] = {
    str: (_identity, _check(str, "text")),
    int: (_identity, _check(int, "an integer")),
    bool: (_identity, _check(bool, "a boolean")),
    bytes: (_identity, _check(bytes, "bytes")),
    float: (_identity, _decode_float),
    Resources: (str, _decode_resources),
    Any: (_identity, _decode_any),
}


def _for_type(tp: Any) -> tuple[Encoder, Decoder]:
    if tp in _SIMPLE:
        return _SIMPLE[tp]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _optional(tp, args)
    if origin is tuple:
        return _sequence(args[0])
    if origin is dict:
        return _mapping(args[1])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if dataclasses.is_dataclass(tp):
        return _nested(tp)
    raise TypeError(f"no wire form for {tp!r}")


def _optional(tp: Any, args: tuple) -> tuple[Encoder, Decoder]:
    inner = [a for a in args if a is not type(None)]
    if len(inner) != 1:
        raise TypeError(f"only Optional[X] unions are supported, not {tp!r}")
    enc, dec = _for_type(inner[0])
    return (lambda v: None if v is None else enc(v)), (
        lambda v, path: None if v is None else dec(v, path)
    )


def _sequence(item: Any) -> tuple[Encoder, Decoder]:
    enc, dec = _for_type(item)

    def decode(value: Any, path: str) -> tuple:
        if not isinstance(value, (list, tuple)):
            raise MessageError(f"expected a list, got {type(value).__name__}", field=path)
        return tuple(dec(v, f"{path}[{i}]") for i, v in enumerate(value))

    if enc is _identity:
        return list, decode
    return (lambda v: [enc(x) for x in v]), decode


def _mapping(item: Any) -> tuple[Encoder, Decoder]:
    enc, dec = _for_type(item)

    def decode(value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise MessageError(f"expected a map, got {type(value).__name__}", field=path)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise MessageError(f"expected text keys, got {type(k).__name__}", field=path)
            out[k] = dec(v, f"{path}.{k}")
        return out

    return (lambda v: {k: enc(x) for k, x in v.items()}), decode


def _enum(tp: type[enum.Enum]) -> tuple[Encoder, Decoder]:
    by_value = {m.value: m for m in tp}

    def decode(value: Any, path: str) -> enum.Enum:
        try:
            return by_value[value]
        except (KeyError, TypeError):
            raise MessageError(f"unknown {tp.__name__} {shown(value)}", field=path) from None

    return (lambda v: v.value), decode


def _nested(tp: type) -> tuple[Encoder, Decoder]:
    # Compiled lazily: catalogue classes may refer to each other.
    return (lambda v: (_CODECS.get(tp) or _codec(tp))[0](v)), (
        lambda v, path: (_CODECS.get(tp) or _codec(tp))[1](v, path)
    )
