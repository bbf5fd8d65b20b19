"""Reading deliveries and confirms off the connection without pika's objects (the hot path).

pika turns every incoming frame into objects (a Frame, a Basic.Deliver, a
BasicProperties), runs it through its callback registry, and trims its input buffer
by copying the rest after each frame: most of the CPU a consumer spends. A delivery to
one of the transport's own consumer channels needs three numbers and the body, and a publisher confirm two
numbers and a flag, so `DeliveryReader` takes the connection's input itself: it cuts
the bytes into frames in place, assembles the deliveries of registered channels
(deliver method, content header, body frames) and hands them straight to their
callback, likewise the acks and nacks of the registered confirm channel; every other
frame (heartbeats, replies to declarations, channel closes) goes to pika as one decoded
frame, in the order received. Frames of other channels may come between a delivery's
frames (AMQP allows it); each channel assembles its own. A frame whose fields do not
fit in it raises pika's InvalidFrameError, as pika's own decoding would: the I/O thread
drops the connection and makes a new one.

    reader = DeliveryReader(connection)          # once the connection is open
    reader.consume(channel, on_message)          # on_message(delivery_tag, redelivered, body, user_id)
    reader.confirms(channel, on_confirm)         # on_confirm(delivery_tag, multiple, nacked)
    reader.forget(channel)                       # the channel closed

pika internals used (pika 1.x): `Connection._on_data_available` (replaced on the
instance), `_frame_buffer`, `_process_frame`, `_channels`, `bytes_received`,
`frames_received`; and `pika.frame.decode_frame` for the frames passed on. Callbacks
must not raise (wrap them: an exception here would end the connection).
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from pika import frame
from pika.exceptions import InvalidFrameError

OnMessage = Callable[[int, bool, bytes, str], None]  # delivery tag, redelivered, body, user id
OnConfirm = Callable[[int, bool, bool], None]  # delivery tag, multiple, nacked

_FRAME_METHOD, _FRAME_HEADER, _FRAME_BODY = 1, 2, 3
_FRAME_END = 0xCE
_BASIC_DELIVER = b"\x00\x3c\x00\x3c"  # class 60 (basic), method 60 (deliver)
_BASIC_ACK = b"\x00\x3c\x00\x50"  # method 80
_BASIC_NACK = b"\x00\x3c\x00\x78"  # method 120
_frame_head = struct.Struct(">BHI").unpack_from  # type, channel, payload size
_long_long = struct.Struct(">Q").unpack_from
_long = struct.Struct(">I").unpack_from
_PLAIN_FLAGS = b"\x10\x10"  # delivery-mode and user-id: what every mesobus publish carries
# Basic properties before user-id, by flag bit: how to step over each (AMQP 0-9-1 order).
_SHORT, _TABLE, _OCTET, _STAMP = "s", "t", "o", "8"
_BEFORE_USER_ID = (
    (15, _SHORT), (14, _SHORT), (13, _TABLE), (12, _OCTET), (11, _OCTET), (10, _SHORT),
    (9, _SHORT), (8, _SHORT), (7, _SHORT), (6, _STAMP), (5, _SHORT),
)
_USER_ID_BIT = 4


def user_id_of(data: bytes, start: int, stop: int) -> str:
    """The user-id property of the content header payload data[start:stop] ("" if unset).
    Raises InvalidFrameError if the properties overrun the frame."""
    flags = (data[start + 12] << 8) | data[start + 13]
    if not flags & (1 << _USER_ID_BIT):
        return ""
    pos = start + 14
    for bit, kind in _BEFORE_USER_ID:
        if not flags & (1 << bit):
            continue
        if pos >= stop:
            break
        if kind is _SHORT:
            pos += 1 + data[pos]
        elif kind is _TABLE:
            pos += 4 + (_long(data, pos)[0] if pos + 4 <= stop else stop)
        elif kind is _OCTET:
            pos += 1
        else:
            pos += 8
    if pos >= stop or pos + 1 + data[pos] > stop:
        raise InvalidFrameError("content header: the properties overrun the frame")
    return data[pos + 1:pos + 1 + data[pos]].decode("utf-8", "replace")


class _Assembly:
    """One registered channel's delivery in progress."""

    __slots__ = (
        "channel", "on_message", "delivery_tag", "redelivered", "user_id", "expecting", "size", "chunks", "received",
    )

    def __init__(self, channel: Any, on_message: OnMessage) -> None:
        self.channel = channel
        self.on_message = on_message
        self.delivery_tag = 0
        self.redelivered = False
        self.user_id = ""
        self.expecting = _FRAME_METHOD  # then the header, then body frames
        self.size = 0
        self.chunks: list[bytes] = []
        self.received = 0

    def take(self, kind: int, data: bytes, start: int, stop: int, channels: dict[int, Any]) -> bool:
        """Consume one frame (payload data[start:stop]) if it belongs to a delivery."""
        expecting = self.expecting
        if kind == _FRAME_METHOD:
            if expecting != _FRAME_METHOD or data[start:start + 4] != _BASIC_DELIVER:
                return False  # another method (consume-ok, close...): pika's
            if channels.get(self.channel.channel_number) is not self.channel:
                return False  # the number belongs to a newer channel now
            pos = start + 5 + data[start + 4] if start + 5 <= stop else stop  # past the consumer tag
            if pos + 9 > stop:  # delivery tag (8) and the redelivered bit, then 2 short strings
                raise InvalidFrameError(f"basic.deliver on channel {self.channel.channel_number} is cut short")
            self.delivery_tag = _long_long(data, pos)[0]
            self.redelivered = bool(data[pos + 8] & 1)
            self.expecting = _FRAME_HEADER
            return True
        if kind != expecting:
            return False
        if kind == _FRAME_HEADER:
            if stop - start < 14:  # class, weight, body size, property flags
                raise InvalidFrameError(f"content header on channel {self.channel.channel_number} is cut short")
            self.size = size = _long_long(data, start + 4)[0]  # after class and weight
            if stop - start > 15 and data[start + 12:start + 14] == _PLAIN_FLAGS and start + 16 + data[start + 15] <= stop:
                self.user_id = data[start + 16:start + 16 + data[start + 15]].decode("utf-8", "replace")
            else:
                self.user_id = user_id_of(data, start, stop)
            if size == 0:
                self._complete(b"")
            else:
                self.expecting, self.received = _FRAME_BODY, 0
            return True
        chunk = data[start:stop]
        self.received += len(chunk)
        if self.received > self.size:
            raise InvalidFrameError(
                f"channel {self.channel.channel_number}: {self.received} body bytes, "
                f"{self.size} announced by the content header"
            )
        if self.received < self.size:
            self.chunks.append(chunk)
        elif self.chunks:
            self.chunks.append(chunk)
            body, self.chunks = b"".join(self.chunks), []
            self._complete(body)
        else:
            self._complete(chunk)
        return True

    def _complete(self, body: bytes) -> None:
        self.expecting = _FRAME_METHOD
        self.on_message(self.delivery_tag, self.redelivered, body, self.user_id)


class _Confirms:
    """The registered confirm-mode channel's acks and nacks."""

    __slots__ = ("channel", "on_confirm")

    def __init__(self, channel: Any, on_confirm: OnConfirm) -> None:
        self.channel = channel
        self.on_confirm = on_confirm

    def take(self, kind: int, data: bytes, start: int, stop: int, channels: dict[int, Any]) -> bool:
        """Consume one frame if it is an ack or nack on this channel."""
        if kind != _FRAME_METHOD:
            return False
        method = data[start:start + 4]
        if method == _BASIC_ACK:
            nacked = False
        elif method == _BASIC_NACK:
            nacked = True
        else:
            return False
        if channels.get(self.channel.channel_number) is not self.channel:
            return False
        if stop - start < 13:  # class, method, delivery tag, the multiple bit
            raise InvalidFrameError(f"publisher confirm on channel {self.channel.channel_number} is cut short")
        self.on_confirm(_long_long(data, start + 4)[0], bool(data[start + 12] & 1), nacked)
        return True


class DeliveryReader:
    """Takes over `connection`'s input (see the module docstring)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._channels: dict[int, Any] = connection._channels
        self._assemblies: dict[int, _Assembly] = {}
        self._confirms: dict[int, _Confirms] = {}
        # pika may hold the start of a frame already: carry on from there.
        self._pending: bytes = bytes(connection._frame_buffer)
        connection._frame_buffer = b""
        connection._on_data_available = self.data_received

    def consume(self, channel: Any, on_message: OnMessage) -> None:
        """Deliveries on `channel` go to `on_message` from now on."""
        self._assemblies[channel.channel_number] = _Assembly(channel, on_message)

    def confirms(self, channel: Any, on_confirm: OnConfirm) -> None:
        """Acks and nacks of the confirm-mode `channel` go to `on_confirm` from now on."""
        self._confirms[channel.channel_number] = _Confirms(channel, on_confirm)

    def forget(self, channel: Any) -> None:
        for registry in (self._assemblies, self._confirms):
            entry = registry.get(channel.channel_number)
            if entry is not None and entry.channel is channel:
                del registry[channel.channel_number]

    def data_received(self, data: bytes) -> None:
        """pika's transport calls this with each chunk read from the socket."""
        if self._pending:
            data = self._pending + data
        connection, channels = self._connection, self._channels
        assemblies, confirms = self._assemblies, self._confirms
        size, offset = len(data), 0
        try:
            while size - offset >= 8:  # the smallest frame: 7 bytes of head, the end byte
                kind, number, length = _frame_head(data, offset)
                start = offset + 7
                stop = start + length  # where the frame-end byte should be
                if stop >= size:
                    break  # the rest of this frame is still on its way
                if data[stop] == _FRAME_END:
                    mine = assemblies.get(number) or confirms.get(number)
                    if mine is not None and mine.take(kind, data, start, stop, channels):
                        connection.frames_received += 1
                        offset = stop + 1
                        continue
                # Anything else is pika's, decoded as it would (a bad frame raises there).
                whole = data[offset:stop + 1]
                offset = stop + 1
                connection._process_frame(frame.decode_frame(whole)[1])
        finally:
            self._pending = data[offset:]
            connection.bytes_received += offset
