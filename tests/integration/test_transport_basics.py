"""The AMQP transport's contract on the real broker: subscribe, settle, unsubscribe, close."""

from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest

from actors.runtime import Delivery, TransportError
from messages import Envelope, PongAgent
from rabbitmq import AmqpTransport
from rabbitmq.topology import queue_name
from tests.support.amqp import delete_queues, queue_depth, raw_channel, unique_prefix

pytestmark = pytest.mark.broker


@pytest.fixture
def address(broker_url: str) -> Iterator[str]:
    address = f"{unique_prefix('basics')}.box"
    yield address
    delete_queues(broker_url, queue_name(address))


def pong(address: str, n: int) -> Envelope:
    return Envelope(id=f"m{n}", sender="test", target=address, body=PongAgent(agent_id=str(n)))


def collect(transport: AmqpTransport, address: str, count: int) -> tuple[list[Delivery], threading.Event]:
    got: list[Delivery] = []
    enough = threading.Event()

    def on_delivery(delivery: Delivery) -> None:
        got.append(delivery)
        if len(got) >= count:
            enough.set()

    transport.subscribe(address, on_delivery)
    return got, enough


def test_subscribing_with_other_queue_arguments_raises_and_the_transport_goes_on(
    broker_url: str, address: str
) -> None:
    with raw_channel(broker_url) as channel:  # someone made this mailbox a classic queue
        channel.queue_declare(queue_name(address), durable=True)
    transport = AmqpTransport(broker_url, queue_type="quorum", send_timeout=10)
    try:
        with pytest.raises(TransportError, match="PRECONDITION_FAILED"):
            transport.subscribe(address, transport.ack)
        other = f"{address}-2"
        try:
            transport.subscribe(other, transport.ack)  # a fresh one works on the same connection
            transport.publish(pong(other, 1))
            transport.flush(10)
        finally:
            transport.close()
            delete_queues(broker_url, queue_name(other))
    finally:
        transport.close()


def test_unsubscribe_gives_unsettled_deliveries_back_to_the_mailbox(broker_url: str, address: str) -> None:
    transport = AmqpTransport(broker_url, prefetch=10)
    try:
        got, enough = collect(transport, address, 5)
        for n in range(5):
            transport.publish(pong(address, n))
        assert enough.wait(10)
        for delivery in got[:2]:
            transport.ack(delivery)
        transport.unsubscribe(address)  # 3 left unsettled

        again, enough = collect(transport, address, 3)
        assert enough.wait(10)
        assert [d.body for d in again] == [d.body for d in got[2:]]
        assert all(d.redelivered for d in again)
        for delivery in again:
            transport.ack(delivery)
    finally:
        transport.close()
    assert queue_depth(broker_url, queue_name(address)) == 0


def test_close_flushes_publishes_and_sends_pending_acks(broker_url: str, address: str) -> None:
    transport = AmqpTransport(broker_url, prefetch=1000, ack_interval=5.0)  # acks would wait 5 s
    got, enough = collect(transport, address, 100)
    for n in range(100):
        transport.publish(pong(address, n))
    assert enough.wait(10)
    for delivery in got:
        transport.ack(delivery)
    started = time.monotonic()
    transport.close()
    assert time.monotonic() - started < 3
    assert transport.stats()["unconfirmed"] == 0
    assert queue_depth(broker_url, queue_name(address)) == 0  # every ack reached the broker
    with pytest.raises(TransportError, match="closed"):
        transport.publish(pong(address, 101))


def test_a_settlement_from_a_lost_connection_is_dropped_not_misapplied(broker_url: str, address: str) -> None:
    transport = AmqpTransport(broker_url, prefetch=10, reconnect_max_delay=0.2)
    try:
        got, enough = collect(transport, address, 1)
        transport.publish(pong(address, 1))
        transport.flush()  # else it is sent again after the reconnect (at-least-once)
        assert enough.wait(10)
        old = got[0]
        transport._io.call_soon(lambda: transport._io._connection.close(320, "test drops the connection"))
        assert_eventually(lambda: len(got) >= 2, "the redelivery after reconnecting")
        transport.ack(old)  # its channel is gone: must not ack anything on the new one
        transport.ack(got[1])
        transport.flush()
        assert_eventually(lambda: transport.stats().get("stale_acks", 0) == 1, "the stale ack to be dropped")
        assert got[1].redelivered and got[1].body == old.body
        assert len(got) == 2
    finally:
        transport.close()
    assert queue_depth(broker_url, queue_name(address)) == 0


def assert_eventually(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_group_broadcast_reaches_every_member_and_one_without_members_is_no_error(broker_url: str) -> None:
    prefix = unique_prefix("group")
    group, members = f"group.{prefix}.all", [f"{prefix}.one", f"{prefix}.two"]
    transport = AmqpTransport(broker_url)
    got: dict[str, list[bytes]] = {m: [] for m in members}
    both = threading.Event()

    def member(address: str):
        def on_delivery(delivery: Delivery) -> None:  # on the I/O thread: must not block
            got[address].append(delivery.body)
            transport.ack(delivery)
            if all(got.values()):
                both.set()
        return on_delivery

    try:
        for address in members:
            transport.subscribe(address, member(address), groups=(group,))
        transport.publish(pong(group, 1))
        assert both.wait(10), got
        time.sleep(0.2)  # a second copy would come now
        assert [len(got[m]) for m in members] == [1, 1]
        transport.publish(pong(f"group.{prefix}.nobody", 2))  # not mandatory: no dead letter
        transport.flush(10)
        assert transport.stats().get("unroutable", 0) == 0
    finally:
        transport.close()
        delete_queues(broker_url, *(queue_name(m) for m in members))
