"""PublishFrames builds exactly the bytes pika's basic_publish would send."""

from __future__ import annotations

import pika
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pika import frame, spec

from rabbitmq.frames import PublishFrames

FRAME_MAX = 4096  # small, so that bodies split into several frames


def pika_bytes(channel: int, exchange: str, routing_key: str, body: bytes, user_id: str | None = None) -> bytes:
    """What pika.Connection._send_message marshals for the same publish."""
    method = spec.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=True)
    properties = pika.BasicProperties(delivery_mode=2, user_id=user_id)
    pieces = [frame.Method(channel, method).marshal(), frame.Header(channel, len(body), properties).marshal()]
    body_max = FRAME_MAX - spec.FRAME_HEADER_SIZE - spec.FRAME_END_SIZE
    pieces += [frame.Body(channel, body[i:i + body_max]).marshal() for i in range(0, len(body), body_max)]
    return b"".join(pieces)


@given(
    channel=st.integers(1, 65535),
    exchange=st.text(max_size=40),
    routing_key=st.text(max_size=80),
    body=st.binary(max_size=3 * FRAME_MAX),
)
def test_publish_frames_match_pika_byte_for_byte(channel: int, exchange: str, routing_key: str, body: bytes) -> None:
    assert PublishFrames(channel, FRAME_MAX)(exchange, routing_key, body) == pika_bytes(channel, exchange, routing_key, body)


@given(
    channel=st.integers(1, 65535),
    user_id=st.text(min_size=1, max_size=60),
    body=st.binary(max_size=2 * FRAME_MAX),
)
def test_publish_frames_with_a_user_id_match_pika_byte_for_byte(channel: int, user_id: str, body: bytes) -> None:
    built = PublishFrames(channel, FRAME_MAX, user_id=user_id)("mesobus", "agent.a1", body)
    assert built == pika_bytes(channel, "mesobus", "agent.a1", body, user_id)


def test_a_body_of_exactly_one_frame_is_not_followed_by_an_empty_frame() -> None:
    body = b"x" * (FRAME_MAX - 8)
    assert PublishFrames(1, FRAME_MAX)("mesobus", "a", body) == pika_bytes(1, "mesobus", "a", body)


def test_method_frames_are_cached_per_exchange_and_key_and_the_cache_is_bounded() -> None:
    frames = PublishFrames(1, FRAME_MAX, cache_limit=2)
    for key in ("a", "b", "c", "a"):
        assert frames("mesobus", key, b"1") == pika_bytes(1, "mesobus", key, b"1")
    assert len(frames._method_frames) <= 2


def test_a_routing_key_longer_than_a_short_string_is_refused_with_its_start() -> None:
    with pytest.raises(ValueError, match="255-byte short string"):
        PublishFrames(1, FRAME_MAX)("mesobus", "é" * 200, b"")
