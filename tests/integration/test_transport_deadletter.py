"""What cannot be handled or routed ends up in `mesobus.dead`, with the reason.

Dead letters are routed by address on the dead-letter exchange, so each test binds a
private queue to `mesobus.dlx` with its own address and reads only its own letters; the
shared `mesobus.dead` queue is left alone.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from actors.runtime import Actor, on
from messages import Envelope, PingAgent, PongAgent
from rabbitmq import AmqpTransport
from rabbitmq.topology import ADDRESS_HEADER, DLX, REASON_HEADER, queue_name
from tests.support.amqp import delete_queues, get_matching, raw_channel, unique_prefix

pytestmark = pytest.mark.broker


class Echo(Actor):
    @on(PingAgent)
    def ping(self, msg: PingAgent) -> None:
        if not msg.connected:
            raise RuntimeError("told to fail")
        self.reply(PongAgent(agent_id=self.address))


@pytest.fixture
def echo(broker_url: str) -> Iterator[tuple[AmqpTransport, str]]:
    transport = AmqpTransport(broker_url)
    address = f"{unique_prefix('dead')}.echo"
    ref = Echo.start(address, transport)
    ref.ask("started?")  # on_start (the subscription) has run
    yield transport, address
    ref.stop()
    transport.close()
    delete_queues(broker_url, queue_name(address))


@pytest.fixture
def dead_letters(broker_url: str) -> Iterator[Any]:
    """A raw channel and a function binding a private queue to the dlx for one address."""
    with raw_channel(broker_url) as channel:

        def watch(address: str) -> str:
            queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            channel.queue_bind(queue, DLX, routing_key=address)
            return queue

        yield channel, watch


def ping(address: str, *, connected: bool = True, id: str = "ping-1") -> Envelope:
    return Envelope(id=id, sender="test", target=address, body=PingAgent(connected=connected))


def test_raw_bytes_that_are_no_message_go_to_the_dead_letters_with_the_reason(
    echo: tuple[AmqpTransport, str], dead_letters: Any
) -> None:
    transport, address = echo
    channel, watch = dead_letters
    watched = watch(address)
    junk = b"\xc1 not a message " + unique_prefix("marker").encode()

    channel.basic_publish("", queue_name(address), junk)  # straight into the actor's queue

    props, body = get_matching(channel, watched, lambda _p, b: b == junk)
    assert props.headers[REASON_HEADER].startswith("undecodable: envelope: not msgpack")
    assert props.headers[ADDRESS_HEADER] == address
    assert props.delivery_mode == 2
    # The actor survived it and answers the next valid message.
    reply = transport.ask(ping(address), timeout=10).result()
    assert reply.body == PongAgent(agent_id=address)


def test_a_failing_handler_dead_letters_its_message_and_the_actor_goes_on(
    echo: tuple[AmqpTransport, str], dead_letters: Any
) -> None:
    transport, address = echo
    channel, watch = dead_letters
    watched = watch(address)

    transport.publish(ping(address, connected=False, id="doomed-1"))

    props, _ = get_matching(channel, watched, lambda _p, body: b"doomed-1" in body)
    assert props.headers[REASON_HEADER] == "handler ping failed on PingAgent: RuntimeError: told to fail"
    assert transport.ask(ping(address, id="ping-2"), timeout=10).result().body == PongAgent(agent_id=address)


def test_a_message_for_an_address_without_a_mailbox_is_dead_lettered_as_unroutable(
    broker_url: str, dead_letters: Any
) -> None:
    channel, watch = dead_letters
    nobody = f"{unique_prefix('dead')}.nobody"
    watched = watch(nobody)
    transport = AmqpTransport(broker_url)
    try:
        transport.publish(Envelope(id="lost-1", sender="test", target=nobody, body=PongAgent("x")))
        transport.flush(10)  # a returned message counts as confirmed only once its dead letter is
        props, body = get_matching(channel, watched, lambda _p, _b: True)
        assert transport.stats()["unroutable"] == 1
    finally:
        transport.close()
    assert props.headers == {REASON_HEADER: "unroutable", ADDRESS_HEADER: nobody}
    assert b"lost-1" in body
