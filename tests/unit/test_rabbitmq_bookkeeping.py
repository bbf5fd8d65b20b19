"""The publisher's and the consumer's bookkeeping, fed confirms, returns and channel
losses by hand (no broker): what is confirmed when, what is sent again, when an ack goes.

Everything runs on the test's thread, posing as the I/O thread."""

from __future__ import annotations

import threading
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from actors.runtime import Delivery
from rabbitmq.config import parse_url
from rabbitmq.frames import Unpublishable
from rabbitmq.consumer import Consumers, Subscription
from rabbitmq.publisher import Publisher
from rabbitmq.topology import DLX, REASON_HEADER, UNROUTABLE, mailbox


class FakeIo:
    """The I/O thread's interface, run inline on this thread."""

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.reader = None
        self.last_error = ""
        self.connections = 1
        self.closing = False
        self.refused = None
        self.turn_hooks: list = []

    def in_io_thread(self) -> bool:
        return True

    def call_soon(self, fn) -> bool:
        fn()
        return True

    def run_here(self, fn) -> bool:
        fn()
        return True

    def call_later(self, _delay: float, fn) -> Any:
        return fn  # run by the test when it wants (see fire())

    def remove_timeout(self, _handle: Any) -> None:
        pass

    def at_turn_end(self, fn) -> None:
        fn()

    def each_turn(self, fn) -> None:
        self.turn_hooks.append(fn)

    def before_send(self, fn) -> None:
        pass

    def refuse(self, message: str) -> None:
        self.refused = message


class FakeChannel:
    def __init__(self, number: int = 1) -> None:
        self.channel_number = number
        self.is_open = True
        self.published: list[tuple[str, str, bytes, Any]] = []  # through basic_publish
        self.frames: list[bytes] = []  # through the fast path
        self.acks: list[tuple[int, bool]] = []
        self.connection = SimpleNamespace(
            params=SimpleNamespace(frame_max=131072), is_open=True,
            _output_marshaled_frames=lambda frames: self.frames.extend(frames),
        )

    def basic_publish(self, exchange: str, routing_key: str, body: bytes, properties: Any, mandatory: bool) -> None:
        self.published.append((exchange, routing_key, body, properties))

    def basic_ack(self, tag: int, multiple: bool = False) -> None:
        self.acks.append((tag, multiple))

    def sends(self) -> int:
        return len(self.published) + len(self.frames)


@pytest.fixture(params=["1", "0"], ids=["fast", "public"])
def setup(request) -> tuple[Publisher, FakeChannel, FakeIo]:
    config = parse_url(f"amqp://guest:guest@h/%2F?fast={request.param}&max_inflight=100")
    io = FakeIo()
    publisher = Publisher(io, config, Counter())
    channel = FakeChannel()
    publisher._on_confirm_mode(channel, lambda: None)
    return publisher, channel, io


def publish(publisher: Publisher, n: int, key: str = "agent.a1") -> list[int]:
    return [publisher.publish("mesobus", key, f"m{i}".encode()) for i in range(n)]


def test_out_of_order_single_confirms_move_the_watermark_only_over_a_gapless_run(setup) -> None:
    publisher, _channel, _io = setup
    publish(publisher, 5)
    for tag, watermark in ((3, 0), (5, 0), (1, 1), (2, 3), (4, 5)):
        publisher._confirmed(tag, False, False)
        assert publisher.watermark == watermark, f"after the confirm of {tag}"
    assert publisher.unconfirmed() == 0


def test_a_multiple_confirm_settles_everything_up_to_its_tag_at_once(setup) -> None:
    publisher, _channel, _io = setup
    publish(publisher, 6)
    publisher._confirmed(4, True, False)
    assert publisher.watermark == 4
    publisher._confirmed(6, False, False)  # 5 still missing
    assert publisher.watermark == 4
    publisher._confirmed(5, True, False)
    assert publisher.watermark == 6


def test_a_nacked_message_is_sent_again_and_holds_the_watermark_until_confirmed(setup) -> None:
    publisher, channel, _io = setup
    publish(publisher, 5)
    publisher._confirmed(2, False, True)  # nack of message 2 alone
    assert channel.published[-1][2] == b"m1", "the nacked message was not sent again"
    publisher._confirmed(5, True, False)  # 1..5 confirmed, but 2 only as its nack
    assert publisher.watermark == 1, "the watermark passed a nacked message"
    publisher._confirmed(6, False, False)  # the resent copy (tag 6)
    assert publisher.watermark == 5
    assert publisher._stats["nacked"] == 1


def test_a_multiple_nack_sends_every_covered_message_again_in_order(setup) -> None:
    publisher, channel, _io = setup
    publish(publisher, 4)
    publisher._confirmed(3, True, True)
    assert [body for *_, body, _p in channel.published[-3:]] == [b"m0", b"m1", b"m2"]
    assert publisher.watermark == 0
    publisher._confirmed(4, False, False)
    publisher._confirmed(7, True, False)
    assert publisher.watermark == 4


def test_a_returned_message_is_dead_lettered_and_its_confirm_waits_for_the_dead_letter(setup) -> None:
    publisher, channel, _io = setup
    publish(publisher, 3)
    method = SimpleNamespace(routing_key="agent.a1", reply_text="NO_ROUTE")
    publisher._on_return(channel, method, None, b"m1")  # basic.return comes before its ack
    exchange, key, body, props = channel.published[-1]
    assert (exchange, key, body, props.headers[REASON_HEADER]) == (DLX, "agent.a1", b"m1", UNROUTABLE)
    assert props.user_id == "guest"
    publisher._confirmed(3, True, False)  # the broker acks the returned one too
    assert publisher.watermark == 1, "the returned message counted as delivered before its dead letter"
    publisher._confirmed(4, False, False)  # the dead letter's confirm
    assert publisher.watermark == 3


def test_a_channel_closed_mid_batch_sends_the_unconfirmed_again_first_and_in_order(setup) -> None:
    publisher, channel, _io = setup
    publish(publisher, 5)
    publisher._confirmed(2, True, False)
    publisher._confirmed(4, False, False)  # confirmed out of order before the loss
    publisher.detach()  # the connection dropped
    later = publisher.publish("mesobus", "agent.a1", b"after")  # waits in the outbox
    fresh = FakeChannel(7)
    publisher._on_confirm_mode(fresh, lambda: None)
    resent = [body for *_, body, _p in fresh.published]
    assert resent[:3] == [b"m2", b"m3", b"m4"], "the resend is not the unconfirmed stretch, in order"
    assert fresh.sends() == 4  # and the new message after them
    assert publisher.watermark == 2
    publisher._confirmed(4, True, False)
    assert publisher.watermark == later
    assert publisher._stats["republished"] == 3


def test_an_unpublishable_message_is_refused_at_publish_and_never_wedges(setup) -> None:
    publisher, channel, _io = setup
    with pytest.raises(Unpublishable, match="routing key is 410 bytes"):
        publisher.publish("mesobus", "reply." + "é" * 202, b"x")
    with pytest.raises(Unpublishable, match="max_message_bytes"):
        publisher.publish("mesobus", "agent.a1", b"x" * (publisher._config.max_message_bytes + 1))
    seq = publisher.publish("mesobus", "agent.a1", b"fine")  # the publisher goes on
    publisher._confirmed(1, False, False)
    assert publisher.watermark == seq == 1 and channel.sends() == 1


# --- the consumer: an ack waits for the handler's output ------------------------------


@pytest.fixture
def consumers(setup) -> tuple[Consumers, Publisher, FakeChannel, Subscription]:
    publisher, _channel, io = setup
    config = parse_url("amqp://h/?prefetch=8&ack_batch=2")
    consumers = Consumers(io, config, publisher, Counter())
    sub = Subscription("agent.a1", lambda delivery: None, mailbox("agent.a1"))
    channel = FakeChannel(2)
    sub.channel, sub.generation, sub.state = channel, 1, "consuming"
    return consumers, publisher, channel, sub


def test_an_ack_is_held_until_the_handlers_output_is_confirmed(consumers) -> None:
    consumer, publisher, channel, sub = consumers
    need = publish(publisher, 1)[-1]  # the handler's output
    consumer.settle((sub, 1, 1), need)
    consumer.settle((sub, 1, 2), need)  # a full batch (2), yet held
    consumer.flush_acks()
    assert channel.acks == [], "acked before the handler's output was confirmed"
    publisher._confirmed(1, False, False)
    assert channel.acks == [(2, True)]


def test_acks_after_a_gap_wait_for_the_gap_then_go_in_one_multiple_ack(consumers) -> None:
    consumer, _publisher, channel, sub = consumers
    consumer.settle((sub, 1, 2), 0)
    consumer.settle((sub, 1, 3), 0)
    consumer.flush_acks()
    assert channel.acks == []
    consumer.settle((sub, 1, 1), 0)
    consumer.flush_acks()
    assert channel.acks == [(3, True)]


def test_settlements_of_a_lost_channel_are_dropped_as_stale(consumers) -> None:
    consumer, publisher, channel, sub = consumers
    need = publish(publisher, 1)[-1]
    consumer.settle((sub, 1, 1), need)  # held for the confirm
    consumer.detach()  # the channel (and connection) closed mid-batch
    sub.channel, sub.generation = FakeChannel(3), 2
    publisher._confirmed(1, False, False)
    consumer.settle((sub, 1, 2), 0)  # a delivery of the old channel
    consumer.flush_acks()
    assert channel.acks == [] and sub.channel.acks == []
    assert consumer._stats["stale_acks"] >= 1


def test_a_delivery_carries_its_user_id(consumers) -> None:
    consumer, _publisher, _channel, sub = consumers
    got: list[Delivery] = []
    sub.on_delivery = got.append
    on_message = consumer._on_message(sub, 1)
    on_message(1, False, b"body", "alice")
    assert got == [Delivery("agent.a1", b"body", (sub, 1, 1), False, "alice")]


def test_an_unroutable_address_is_named_once_then_once_a_minute(caplog, monkeypatch):
    import logging

    from rabbitmq import publisher as publisher_module

    class Clock:
        now = 1000.0

    monkeypatch.setattr(publisher_module.time, "monotonic", lambda: Clock.now)
    said = publisher_module.Publisher._say_unroutable
    holder = type("P", (), {"_unroutable_said": {}})()
    with caplog.at_level(logging.WARNING, logger="rabbitmq.publisher"):
        for _ in range(5):
            said(holder, "master", "NO_ROUTE")
        Clock.now += 61
        said(holder, "master", "NO_ROUTE")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0] == "mesobus: no mailbox for 'master' (NO_ROUTE); dead-lettering the message"
    assert lines[1].endswith("(4 more in the last 60s)")
