"""The frames of one persistent basic.publish, built directly (the transport's hot path).

pika builds a publish from objects (a Publish method, a BasicProperties, three Frame
objects, each marshalled piece by piece): about 40 us of Python per message, the largest
single cost of sending. A plain mailbox message is always the same shape: persistent
(delivery-mode 2), stamped with the connection's user (`user_id`, which the broker
verifies), no other properties, mandatory. So its method frame depends only on the
channel, exchange and routing key (cached), its header frame only on the body's length, and the whole publish is a few struct.pack calls and one join. The bytes are
exactly pika's (tests/unit/test_rabbitmq_frames.py compares them); anything else
(dead letters with headers) goes through pika.

    >>> publish = PublishFrames(channel_number=1, frame_max=131072)
    >>> data = publish("mesobus", "master", b"hi")
    >>> data[:1], data[-4:]  # a method frame first; last the body frame's size, body, 0xCE
    (b'\\x01', b'\\x02hi\\xce')
"""

from __future__ import annotations

import struct

from actors.runtime.transport import TransportError

_FRAME_METHOD, _FRAME_HEADER, _FRAME_BODY = 1, 2, 3
_FRAME_END = b"\xce"
_FRAME_OVERHEAD = 8  # type (1), channel (2), size (4) before the payload; 0xCE after
_BASIC = 60
_PUBLISH = 40
_DELIVERY_MODE_FLAG = 1 << 12  # basic properties: delivery-mode...
_USER_ID_FLAG = 1 << 4  # ... and user-id, nothing else
_PERSISTENT = 2
_MANDATORY = 1

_frame_start = struct.Struct(">BHI").pack
_header_payload = struct.Struct(">HHQH").pack  # class, weight, body size, property flags
SHORT_STRING_MAX = 255  # bytes of an AMQP short string (exchange, routing key, user id)


def _short_string(text: str) -> bytes:
    encoded = text.encode()
    if len(encoded) > SHORT_STRING_MAX:
        raise ValueError(f"{text[:40]!r}... is longer than AMQP's 255-byte short string")
    return bytes((len(encoded),)) + encoded


class PublishFrames:
    """Builds the bytes of persistent, mandatory publishes on one channel."""

    def __init__(self, channel_number: int, frame_max: int, cache_limit: int = 4096, user_id: str = "") -> None:
        self._channel = channel_number
        self._body_max = frame_max - _FRAME_OVERHEAD
        self._method_frames: dict[tuple[str, str], bytes] = {}
        self._cache_limit = cache_limit
        # The properties after the flags: delivery-mode, then user-id (when there is one).
        self._flags = _DELIVERY_MODE_FLAG | (_USER_ID_FLAG if user_id else 0)
        self._properties = bytes((_PERSISTENT,)) + (_short_string(user_id) if user_id else b"")
        self._header_start = _frame_start(_FRAME_HEADER, channel_number, 14 + len(self._properties))

    def __call__(self, exchange: str, routing_key: str, body: bytes) -> bytes:
        method = self._method_frames.get((exchange, routing_key))
        if method is None:
            method = self._method_frame(exchange, routing_key)
        size = len(body)
        parts = [
            method,
            self._header_start,
            _header_payload(_BASIC, 0, size, self._flags),
            self._properties,
            _FRAME_END,
        ]
        body_max, channel = self._body_max, self._channel
        for start in range(0, size, body_max):
            chunk = body[start:start + body_max]
            parts += (_frame_start(_FRAME_BODY, channel, len(chunk)), chunk, _FRAME_END)
        return b"".join(parts)

    def _method_frame(self, exchange: str, routing_key: str) -> bytes:
        payload = b"".join((
            struct.pack(">HHH", _BASIC, _PUBLISH, 0),  # reserved ticket
            _short_string(exchange),
            _short_string(routing_key),
            bytes((_MANDATORY,)),  # bits: mandatory set, immediate not
        ))
        frame = _frame_start(_FRAME_METHOD, self._channel, len(payload)) + payload + _FRAME_END
        if len(self._method_frames) >= self._cache_limit:
            self._method_frames.clear()  # many short-lived addresses (reply mailboxes): start over
        self._method_frames[(exchange, routing_key)] = frame
        return frame


class Unpublishable(TransportError, ValueError):
    """A message no AMQP frame can carry, refused by `publish()` (nothing was sent)."""


def check_publishable(exchange: str, routing_key: str, body: bytes, max_body: int) -> None:
    """Raise Unpublishable if the broker could never take this message."""
    for what, text in (("exchange", exchange), ("routing key", routing_key)):
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > SHORT_STRING_MAX:
            raise Unpublishable(
                f"cannot publish to {text[:60]!r}...: the {what} is {size} bytes, AMQP allows {SHORT_STRING_MAX}"
            )
    if len(body) > max_body:
        raise Unpublishable(
            f"cannot publish to {routing_key[:60]!r}: the message is {len(body)} bytes, "
            f"more than max_message_bytes ({max_body})"
        )
