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
from functools import lru_cache
from typing import Any, Callable

from messages.errors import MessageError, ResourceError
from messages.resources import Resources

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any, str], Any]  # (plain value, field path) -> typed value


def to_plain(obj: Any) -> dict:
    """A catalogue dataclass as a dict of plain values."""
    return _codec(type(obj))[0](obj)


def from_plain(cls: type, data: Any) -> Any:
    """Build `cls` from plain data, validating every field; raises MessageError."""
    return _codec(cls)[1](data, "")


@lru_cache(maxsize=None)
def _codec(cls: type) -> tuple[Encoder, Decoder]:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    specs = []
    for f in fields:
        enc, dec = _for_type(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        specs.append((f.name, enc, dec, required))
    name = cls.__name__

    def encode(obj: Any) -> dict:
        return {fname: enc(getattr(obj, fname)) for fname, enc, _, _ in specs}

    def decode(data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            raise MessageError(f"expected a map, got {type(data).__name__}", message=name, field=path)
        kwargs = {}
        for fname, _, dec, required in specs:
            where = f"{path}.{fname}" if path else fname
            if fname in data:
                try:
                    kwargs[fname] = dec(data[fname], where)
                except MessageError as err:
                    raise MessageError(err.reason, message=name, field=err.field or where) from None
            elif required:
                raise MessageError("required field missing", message=name, field=where)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            raise MessageError(str(err), message=name, field=path) from None

    return encode, decode


def _identity(value: Any) -> Any:
    return value


def _check(kind: type | tuple, label: str) -> Decoder:
    def decode(value: Any, path: str) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise MessageError(f"expected {label}, got bool", field=path)
        if not isinstance(value, kind):
            raise MessageError(f"expected {label}, got {type(value).__name__}", field=path)
        return value

    return decode


def _decode_float(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MessageError(f"expected a number, got {type(value).__name__}", field=path)
    return float(value)


def _decode_resources(value: Any, path: str) -> Resources:
    if not isinstance(value, str):
        raise MessageError(f"expected resource text, got {type(value).__name__}", field=path)
    try:
        return Resources.parse(value)
    except ResourceError as err:
        raise MessageError(str(err), field=path) from None


_SIMPLE: dict[Any, tuple[Encoder, Decoder]] = {
    str: (_identity, _check(str, "text")),
    int: (_identity, _check(int, "an integer")),
    bool: (_identity, _check(bool, "a boolean")),
    bytes: (_identity, _check(bytes, "bytes")),
    float: (_identity, _decode_float),
    Resources: (str, _decode_resources),
    Any: (_identity, lambda value, path: value),
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
            raise MessageError(f"unknown {tp.__name__} {value!r}", field=path) from None

    return (lambda v: v.value), decode


def _nested(tp: type) -> tuple[Encoder, Decoder]:
    # Compiled lazily: catalogue classes may refer to each other.
    return (lambda v: _codec(tp)[0](v)), (lambda v, path: _codec(tp)[1](v, path))
