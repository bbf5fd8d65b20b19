"""Crashes and outages: a consumer killed mid-stream, a broker restarted under load.

The broker restarts happen on a private node (tests/support/broker_node.py), never on the
shared broker.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from actors.runtime import TransportError
from messages import Envelope
from rabbitmq import AmqpTransport
from rabbitmq.topology import queue_name
from tests.support.amqp import delete_queues, unique_prefix
from tests.support.broker_node import BrokerNode, private_broker  # noqa: F401  (fixture)
from tests.support.processes import Peer
from tests.support.probe import TransportProbe

pytestmark = [pytest.mark.broker, pytest.mark.chaos]


def handled(path: Path) -> list[tuple[int, bool]]:
    """The worker's record: (seq, redelivered) per finished message."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [(int(seq), flag == "1") for seq, flag in (line.split() for line in lines if line.count(" ") == 1)]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def probe(target: str, seq: int) -> Envelope:
    return Envelope(id=f"{target}-{seq}", sender=f"{target}.test", target=target, body=TransportProbe(seq=seq))


def test_a_consumer_killed_mid_stream_gets_every_unfinished_message_again(broker_url: str, tmp_path: Path) -> None:
    count = 2000
    address = f"{unique_prefix('kill')}.worker"
    first, second = tmp_path / "first", tmp_path / "second"
    publisher = AmqpTransport(broker_url)
    try:
        with Peer("worker", url=broker_url, address=address, out=first, delay=0.001) as worker:
            worker.wait_ready()
            for seq in range(count):
                publisher.publish(probe(address, seq))
            publisher.flush(30)
            wait_until(lambda: len(handled(first)) >= count // 4, 30, "the worker to be busy")
            worker.kill()  # SIGKILL: no acks flushed, no goodbye
        finished_before = {seq for seq, _ in handled(first)}
        assert len(finished_before) < count, "the kill came too late to test anything"

        with Peer("worker", url=broker_url, address=address, out=second) as worker:
            worker.wait_ready()
            everything = set(range(count))
            wait_until(
                lambda: finished_before | {seq for seq, _ in handled(second)} == everything, 60,
                "every message to be handled",
            )
            worker.finish()
    finally:
        publisher.close()
        delete_queues(broker_url, queue_name(address))

    after = handled(second)
    # Nothing lost: every message not finished before the kill was handled after it.
    assert everything - finished_before <= {seq for seq, _ in after}
    # The ones the killed process held unacked came back flagged as redelivered.
    assert any(redelivered for _, redelivered in after)
    assert all(redelivered for seq, redelivered in after[:1])


def test_both_sides_reconnect_after_a_broker_restart_and_nothing_is_lost(
    private_broker: BrokerNode, tmp_path: Path
) -> None:
    count = 2000
    url = private_broker.url + "?reconnect_max_delay=1"
    address = f"{unique_prefix('restart')}.worker"
    out = tmp_path / "handled"
    with Peer("worker", url=url, address=address, out=out) as worker:
        worker.wait_ready()
        with Peer("publisher", url=url, target=address, count=count, interval=0.002, send_timeout=90) as publisher:
            publisher.wait_ready()
            wait_until(lambda: len(handled(out)) >= 200, 30, "messages to flow")
            private_broker.restart()  # graceful stop: both connections are closed by the broker
            sent = publisher.result(timeout=120)
        wait_until(lambda: {seq for seq, _ in handled(out)} == set(range(count)), 60, "every message")
        got = worker.finish()

    assert sent["published"] == count
    assert {seq for seq, _ in handled(out)} == set(range(count))  # duplicates allowed, losses not
    assert sent["stats"]["connections"] >= 2, "the publisher reconnected by itself"
    assert got["stats"]["connections"] >= 2, "the worker reconnected by itself"
    assert sent["stats"]["unconfirmed"] == 0


def test_publish_during_an_outage_waits_then_raises_transport_error(private_broker: BrokerNode) -> None:
    address = f"{unique_prefix('outage')}.sink"
    transport = AmqpTransport(private_broker.url + "?reconnect_max_delay=0.5", send_timeout=1.0)
    try:
        transport.subscribe(address, transport.ack)
        transport.publish(probe(address, 0))
        transport.flush(10)
        private_broker.stop()
        started = time.monotonic()
        with pytest.raises(TransportError, match="no connection"):
            transport.publish(probe(address, 1))
        assert 0.9 <= time.monotonic() - started < 5
        private_broker.start()
        wait_until(lambda: transport.connected, 30, "the transport to reconnect")
        transport.publish(probe(address, 2))
        transport.flush(10)
        assert transport.stats()["connections"] >= 2
    finally:
        transport.close()


def test_a_journal_batch_during_an_outage_does_not_wait_and_goes_out_after_the_reconnect(
    private_broker: BrokerNode,
) -> None:
    # The batch timer runs on the clock thread that every timer of the process shares:
    # blocking it for send_timeout would hold up ask timeouts and actors' delays.
    transport = AmqpTransport(private_broker.url + "?reconnect_max_delay=0.5", send_timeout=5.0)
    try:
        wait_until(lambda: transport.connected, 30, "the transport to connect")
        private_broker.stop()
        wait_until(lambda: not transport.connected, 30, "the transport to notice the outage")
        transport.record(probe("journal", 1))
        started = time.monotonic()
        transport._copies.flush()  # what the batch timer calls
        assert time.monotonic() - started < 0.5
        assert transport.stats()["unconfirmed"] == 1
        private_broker.start()
        wait_until(lambda: transport.connected, 30, "the transport to reconnect")
        transport.flush(10)
        assert transport.stats()["unconfirmed"] == 0
    finally:
        transport.close()
