"""Two actors in two OS processes talk through the shared broker."""

from __future__ import annotations

import pytest

from rabbitmq.topology import queue_name
from tests.support.amqp import delete_queues, unique_prefix
from tests.support.processes import Peer

pytestmark = pytest.mark.broker

COUNT = 10_000


def test_actors_in_two_processes_exchange_10000_messages_in_order(broker_url: str) -> None:
    prefix = unique_prefix("procs")
    sender, echo = f"{prefix}.a", f"{prefix}.b"
    try:
        with Peer("echo", url=broker_url, address=echo) as b, Peer(
            "sender", url=broker_url, address=sender, target=echo, count=COUNT
        ) as a:
            b.wait_ready()
            a.wait_ready()
            a.send("go")  # a sends COUNT probes to b; b answers each one
            sent = a.finish(timeout=120)
            echoed = b.finish()
    finally:
        delete_queues(broker_url, queue_name(sender), queue_name(echo))

    assert sent["complete"], sent
    # b got every probe from a, each exactly once and in the order a sent them.
    assert echoed["received"] == COUNT
    assert echoed["last"] == {sender: COUNT - 1}
    assert echoed["out_of_order"] == []
    # a got every answer, in order too.
    assert sent["received"] == COUNT
    assert sent["last"] == {echo: COUNT - 1}
    assert sent["out_of_order"] == []
    # Both processes had everything confirmed, and nothing went astray.
    for side in (sent, echoed):
        assert side["stats"]["unconfirmed"] == 0
        assert side["stats"].get("unroutable", 0) == 0
        assert side["stats"].get("dead_lettered", 0) == 0
