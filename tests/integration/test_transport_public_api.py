"""`?fast=0`: the transport on pika's public API only. Every module that reaches into
pika's internals (PublishFrames, DeliveryReader, the tuned Loop and send_output) is made
to fail here, and a round of publish, consume, ask, dead letter and unroutable return
still works. CI also runs the whole transport suite with MESOBUS_TRANSPORT_FAST=0."""

from __future__ import annotations

import threading

import pytest

from actors.runtime import Delivery
from messages import Envelope, PongAgent
from rabbitmq import AmqpTransport, connection, publisher
from rabbitmq.topology import queue_name
from tests.support.amqp import delete_queues, unique_prefix

pytestmark = pytest.mark.broker


def forbidden(name: str):
    def fail(*_args, **_kwargs):
        raise AssertionError(f"?fast=0 used {name}, which reaches into pika's internals")

    return fail


def test_fast_0_runs_on_pikas_public_api_only(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in ((connection, "DeliveryReader"), (connection, "Loop"), (connection, "send_output"),
                         (publisher, "PublishFrames")):
        monkeypatch.setattr(module, name, forbidden(f"{module.__name__}.{name}"))
    url = broker_url + ("&" if "?" in broker_url else "?") + "fast=0"
    address = f"{unique_prefix('public')}.box"
    transport = AmqpTransport(url, send_timeout=10)
    got: list[Delivery] = []
    enough = threading.Event()

    def on_delivery(delivery: Delivery) -> None:
        got.append(delivery)
        if len(got) <= 50:
            transport.ack(delivery)
        else:
            transport.dead_letter(delivery, "a test's reason")
        if len(got) == 51:
            enough.set()

    try:
        assert not transport.config.fast
        transport.subscribe(address, on_delivery)
        for n in range(51):
            transport.publish(Envelope(id=f"m{n}", sender="t", target=address, body=PongAgent(agent_id=str(n))))
        assert enough.wait(20), f"{len(got)} of 51 delivered"
        assert [d.user_id for d in got] == [transport.user] * 51
        transport.publish(Envelope(id="x", sender="t", target=f"{address}.nobody", body=PongAgent(agent_id="x")))
        transport.flush(10)
        stats = transport.stats()
        assert stats["unroutable"] == 1 and stats["dead_lettered"] == 1, stats
        assert transport._io.reader is None and transport._publisher._frames is None
    finally:
        transport.close()
        delete_queues(broker_url, queue_name(address))
