"""The journal's switch in the transport: off means no journal work at all. With
`?journal=0` (or `stop_journal()`, what `--no-journal` calls) nothing is gathered or
encoded; where no journal stream is bound, the first batch comes back and copying stops
(no dead letter: that is not a lost message); with the stream bound, copies go on."""

from __future__ import annotations

import threading
import time

import pytest

from actors.runtime import Delivery
from messages import Envelope, PongAgent
from rabbitmq import AmqpTransport
from rabbitmq.journal import enable_stream
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


def pong(n: int) -> Envelope:
    return Envelope(id=f"m{n}", sender="t", target="box", body=PongAgent(agent_id=str(n)))


def run_traffic(transport: AmqpTransport, count: int = 300) -> None:
    done = threading.Event()
    seen: list[Delivery] = []

    def on_delivery(delivery: Delivery) -> None:
        seen.append(delivery)
        transport.ack(delivery)
        if len(seen) == count:
            done.set()

    transport.subscribe("box", on_delivery)
    for n in range(count):
        transport.publish(pong(n))
    assert done.wait(20)
    transport.flush(10)


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_journal_0_gathers_and_sends_no_copies() -> None:
    with private_vhost("mesobus-nojournal") as url:
        enable_stream(url)  # even with a stream there: this process says no
        transport = AmqpTransport(url + "?journal=0")
        try:
            assert not transport.journaling
            run_traffic(transport)
            transport.record(pong(0))
            assert transport._copies._pending == []
            assert transport.stats()["published"] == 300  # the messages, and not one batch
        finally:
            transport.close()


def test_without_a_journal_stream_copying_stops_after_the_first_batch_comes_back() -> None:
    with private_vhost("mesobus-nostream") as url:
        transport = AmqpTransport(url)
        try:
            run_traffic(transport)  # 300 messages: a full batch (256) goes out at once
            assert wait_for(lambda: not transport.journaling), "copying went on without a stream"
            stats = transport.stats()
            assert stats["journal_returned"] >= 1 and stats.get("unroutable", 0) == 0, stats
            published = stats["published"]
            for n in range(300):
                transport.publish(pong(n))
            transport.flush(10)
            assert transport.stats()["published"] == published + 300, "journal batches were still sent"
            assert transport._copies._pending == []
        finally:
            transport.close()


def test_with_the_stream_bound_copies_go_on() -> None:
    with private_vhost("mesobus-stream") as url:
        enable_stream(url)
        transport = AmqpTransport(url)
        try:
            run_traffic(transport)
            time.sleep(0.5)  # the batch timer (0.2 s) sends the rest
            transport.flush(10)
            assert transport.journaling and transport.stats().get("journal_returned", 0) == 0
        finally:
            transport.close()
