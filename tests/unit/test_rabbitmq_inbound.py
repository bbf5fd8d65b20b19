"""DeliveryReader: deliveries of registered channels assembled from raw frames, every
other frame handed to pika in order, whatever the chunks the socket delivers."""

from __future__ import annotations

from typing import Any

import pika
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pika import exceptions, frame, spec

from rabbitmq.inbound import DeliveryReader

BODY_MAX = 64  # small frames, so that bodies span several


class FakeConnection:
    """What DeliveryReader uses of a pika Connection; records what pika would process."""

    def __init__(self) -> None:
        self._channels: dict[int, Any] = {}
        self._frame_buffer = b""
        self.bytes_received = 0
        self.frames_received = 0
        self.to_pika: list[Any] = []

    def _process_frame(self, value: Any) -> None:
        self.to_pika.append(value)

    def channel(self, number: int) -> Any:
        channel = type("Channel", (), {"channel_number": number})()
        self._channels[number] = channel
        return channel


def deliver(channel: int, tag: int, body: bytes, redelivered: bool = False, consumer_tag: str = "ctag") -> bytes:
    method = spec.Basic.Deliver(consumer_tag, tag, redelivered, "mesobus", "some.address")
    pieces = [frame.Method(channel, method).marshal(),
              frame.Header(channel, len(body), pika.BasicProperties(delivery_mode=2)).marshal()]
    pieces += [frame.Body(channel, body[i:i + BODY_MAX]).marshal() for i in range(0, len(body), BODY_MAX)]
    return b"".join(pieces)


def confirm(channel: int, tag: int) -> bytes:
    return frame.Method(channel, spec.Basic.Ack(tag, multiple=True)).marshal()


def reader_on(connection: FakeConnection, *numbers: int) -> tuple[DeliveryReader, list[tuple[int, int, bool, bytes]]]:
    reader = DeliveryReader(connection)
    got: list[tuple[int, int, bool, bytes]] = []
    for number in numbers:
        reader.consume(connection.channel(number), lambda tag, again, body, _user, n=number: got.append((n, tag, again, body)))
    return reader, got


def feed(reader: DeliveryReader, data: bytes, cuts: list[int]) -> None:
    edges = [0, *sorted(set(c % (len(data) + 1) for c in cuts)), len(data)]
    for start, stop in zip(edges, edges[1:]):
        reader.data_received(data[start:stop])


@given(
    bodies=st.lists(st.binary(max_size=3 * BODY_MAX), min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_deliveries_arrive_whole_and_in_order_however_the_bytes_are_cut(bodies: list[bytes], cuts: list[int]) -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 2)
    data = b"".join(deliver(2, tag, body, redelivered=tag % 2 == 0) for tag, body in enumerate(bodies, 1))
    feed(reader, data, cuts)
    assert got == [(2, tag, tag % 2 == 0, body) for tag, body in enumerate(bodies, 1)]
    assert connection.to_pika == []
    assert connection.bytes_received == len(data)


def test_frames_of_other_channels_between_a_deliverys_frames_go_to_pika_in_order() -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 2)
    method, header, *body = frame_list(deliver(2, 7, b"x" * (2 * BODY_MAX)))
    data = b"".join([method, confirm(1, 1), header, body[0], confirm(1, 2), body[1], confirm(1, 3)])
    reader.data_received(data)
    assert got == [(2, 7, False, b"x" * (2 * BODY_MAX))]
    assert [f.method.delivery_tag for f in connection.to_pika] == [1, 2, 3]


def test_an_empty_body_is_delivered_with_its_header() -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 3)
    reader.data_received(deliver(3, 1, b""))
    assert got == [(3, 1, False, b"")]


def test_other_methods_and_unregistered_channels_are_pikas() -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 2)
    consume_ok = frame.Method(2, spec.Basic.ConsumeOk("ctag")).marshal()
    reader.data_received(consume_ok + deliver(5, 1, b"other") + frame.Heartbeat().marshal())
    assert got == []
    kinds = [type(getattr(f, "method", f)).__name__ for f in connection.to_pika]
    assert kinds == ["ConsumeOk", "Deliver", "Header", "Body", "Heartbeat"]
    assert connection.frames_received == 0  # pika counts its own


def test_a_channel_number_taken_by_a_newer_channel_is_left_to_pika() -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 2)
    connection.channel(2)  # pika reused the number for a new channel
    reader.data_received(deliver(2, 1, b"for the new one"))
    assert got == [] and len(connection.to_pika) == 3


def test_a_forgotten_channel_is_left_to_pika() -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 2)
    reader.forget(connection._channels[2])
    reader.data_received(deliver(2, 1, b"late"))
    assert got == [] and len(connection.to_pika) == 3


def test_a_frame_without_its_end_byte_fails_as_in_pika() -> None:
    connection = FakeConnection()
    reader, _ = reader_on(connection, 2)
    bad = bytearray(deliver(2, 1, b"body"))
    bad[-1] = 0
    with pytest.raises(exceptions.InvalidFrameError):
        reader.data_received(bytes(bad))


def test_bytes_pika_had_buffered_before_the_reader_are_kept() -> None:
    connection = FakeConnection()
    data = deliver(2, 1, b"abc")
    connection._frame_buffer = data[:5]
    connection.channel(2)
    reader = DeliveryReader(connection)
    got: list[bytes] = []
    reader.consume(connection._channels[2], lambda _tag, _again, body, _user: got.append(body))
    reader.data_received(data[5:])
    assert got == [b"abc"]


def frame_list(data: bytes) -> list[bytes]:
    frames = []
    while data:
        consumed, _ = frame.decode_frame(data)
        frames.append(data[:consumed])
        data = data[consumed:]
    return frames


def test_acks_and_nacks_of_the_confirm_channel_go_to_its_callback_other_methods_to_pika() -> None:
    connection = FakeConnection()
    reader = DeliveryReader(connection)
    got: list[tuple[int, bool, bool]] = []
    reader.confirms(connection.channel(1), lambda tag, multiple, nacked: got.append((tag, multiple, nacked)))
    select_ok = frame.Method(1, spec.Confirm.SelectOk()).marshal()
    nack = frame.Method(1, spec.Basic.Nack(9, multiple=False)).marshal()
    reader.data_received(select_ok + confirm(1, 7) + nack + confirm(2, 3))
    assert got == [(7, True, False), (9, False, True)]
    assert [type(f.method).__name__ for f in connection.to_pika] == ["SelectOk", "Ack"]  # channel 2's is pika's


def cut(frame_bytes: bytes, keep: int) -> bytes:
    """`frame_bytes` with its payload cut to `keep` bytes (head and end byte kept whole)."""
    return frame_bytes[:3] + keep.to_bytes(4, "big") + frame_bytes[7:7 + keep] + b"\xce"


@pytest.mark.parametrize("which, keep", [("deliver", 12), ("header", 10)])
def test_a_delivery_frame_too_short_for_its_fields_fails_as_invalid(which: str, keep: int) -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 2)
    method, header, body = frame_list(deliver(2, 1, b"body"))
    bad = cut(method, keep) + header + body if which == "deliver" else method + cut(header, keep) + body
    with pytest.raises(exceptions.InvalidFrameError, match="cut short"):
        reader.data_received(bad)
    assert got == []


def test_more_body_than_the_header_announced_fails_as_invalid() -> None:
    connection = FakeConnection()
    reader, got = reader_on(connection, 2)
    method, header, _ = frame_list(deliver(2, 1, b"abc"))
    with pytest.raises(exceptions.InvalidFrameError, match="4 body bytes, 3 announced"):
        reader.data_received(method + header + frame.Body(2, b"abcd").marshal())
    assert got == []


def test_a_confirm_too_short_for_its_fields_fails_as_invalid() -> None:
    connection = FakeConnection()
    reader = DeliveryReader(connection)
    reader.confirms(connection.channel(1), lambda *_: pytest.fail("a cut confirm was taken"))
    with pytest.raises(exceptions.InvalidFrameError, match="cut short"):
        reader.data_received(cut(confirm(1, 7), 8))


@given(
    user_id=st.one_of(st.none(), st.text(max_size=40)),
    headers=st.one_of(st.none(), st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3)),
    extra=st.booleans(),
)
def test_each_delivery_carries_the_user_id_property_whatever_comes_before_it(
    user_id: str | None, headers: dict | None, extra: bool,
) -> None:
    connection = FakeConnection()
    reader = DeliveryReader(connection)
    got: list[str] = []
    reader.consume(connection.channel(3), lambda _tag, _again, _body, user: got.append(user))
    properties = pika.BasicProperties(
        delivery_mode=2, user_id=user_id, headers=headers,
        content_type="application/msgpack" if extra else None, timestamp=12345 if extra else None,
        correlation_id="c1" if extra else None, priority=3 if extra else None, type="t" if extra else None,
    )
    method = spec.Basic.Deliver("ctag", 1, False, "mesobus", "a")
    reader.data_received(
        frame.Method(3, method).marshal() + frame.Header(3, 2, properties).marshal() + frame.Body(3, b"hi").marshal()
    )
    assert got == [user_id or ""]
