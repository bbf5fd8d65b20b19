"""Decoding validates everything and fails with one error type that names the problem."""

from __future__ import annotations

import msgpack
import pytest

from messages import Decline, Envelope, Filters, MessageError, PongAgent, decode, encode


def _raw(body: dict, type_: str = "Decline", **overrides) -> bytes:
    env = {"v": 1, "y": type_, "i": "m1", "s": "a", "t": "b", "c": "", "k": "", "e": 0, "a": 0.0}
    env.update(overrides)
    env["b"] = body
    return msgpack.packb(env)


def test_decode_names_the_message_and_the_field_of_a_wrong_type() -> None:
    with pytest.raises(MessageError, match=r"Decline\.offer_ids\[0\]: expected text"):
        decode(_raw({"framework_id": "f", "offer_ids": [1]}))


def test_decode_names_a_missing_required_field() -> None:
    with pytest.raises(MessageError, match="Decline.framework_id: required field missing"):
        decode(_raw({"offer_ids": []}))


def test_decode_rejects_unknown_message_types() -> None:
    with pytest.raises(MessageError, match="unknown message type 'Nope'"):
        decode(_raw({}, type_="Nope"))


def test_decode_rejects_bytes_that_are_not_msgpack() -> None:
    with pytest.raises(MessageError, match="envelope"):
        decode(b"\xc1 definitely not msgpack")


def test_decode_rejects_a_bad_envelope_field() -> None:
    with pytest.raises(MessageError, match="epoch"):
        decode(_raw({"agent_id": "a"}, type_="PongAgent", e="one"))


def test_decode_rejects_a_value_the_type_forbids() -> None:
    with pytest.raises(MessageError, match="refuse_seconds out of range"):
        decode(_raw({"framework_id": "f", "offer_ids": [], "filters": {"refuse_seconds": -1}}))


def test_unknown_extra_fields_are_ignored() -> None:
    env = decode(_raw({"agent_id": "a1", "added_in_v2": [1, 2]}, type_="PongAgent", z="new"))
    assert env.body == PongAgent("a1")


def test_newer_format_versions_are_read_as_far_as_understood() -> None:
    env = decode(_raw({"agent_id": "a1"}, type_="PongAgent", v=7))
    assert env.body == PongAgent("a1")


def test_defaults_fill_fields_an_older_writer_did_not_send() -> None:
    env = decode(_raw({"framework_id": "f", "offer_ids": ["o1"]}))
    assert env.body == Decline("f", ("o1",), Filters(5.0))


def test_envelope_fields_round_trip() -> None:
    env = Envelope(
        id="m9", sender="framework.f", target="master", body=Decline("f", ("o",)),
        correlation_id="c", causation_id="k", epoch=3, sent_at=12.5,
    )
    assert decode(encode(env)) == env
