"""An address no AMQP frame can carry (a 410-byte routing key) used to reach a handler as
a sender, and the reply to it stayed in the publisher for resending and wedged it after
every reconnect. Now each layer refuses it at its door, and nothing wedges:

- a message that names such an address is refused when decoding (messages/limits.py):
  dead-lettered with the reason, before any handler runs;
- `publish()` of an envelope addressed to it is refused by the codec (MessageError, a
  ValueError: the runtime's outbox never keeps it for resending);
- raw bytes for such a routing key are refused by the publisher (`Unpublishable`), never
  joining its outbox.

The actor, the transport and its publisher go on."""

from __future__ import annotations

import time

import msgpack
import pytest

from actors.runtime import Actor, on
from messages import Envelope, MessageError, PingAgent, PongAgent, ShutdownAgent
from rabbitmq import AmqpTransport, Unpublishable
from rabbitmq.topology import DLX, REASON_HEADER
from tests.support.amqp import get_matching, raw_channel
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker

SENDER = "reply." + "é" * 202  # 410 bytes: passes as text, fails as a routing key


class Echo(Actor):
    @on(PingAgent)
    def ping(self, _message: PingAgent) -> None:
        self.reply(PongAgent(agent_id="pong"))


def hostile_ping(sender: str) -> bytes:
    """What another AMQP client could publish (mesobus's codec refuses to write it)."""
    return msgpack.packb({
        "v": 1, "y": "PingAgent", "i": "bad", "s": sender, "t": "echo", "c": "", "k": "", "e": 0, "a": 0.0,
        "b": {"connected": True},
    })


def test_a_reply_to_an_unpublishable_address_is_refused_and_nothing_wedges() -> None:
    with private_vhost("mesobus-unpublishable") as url, raw_channel(url) as channel:
        transport = AmqpTransport(url, send_timeout=10)
        try:
            ref = Echo.start("echo", transport)
            ref.ask("started?")
            watched = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            channel.queue_bind(watched, DLX, routing_key="echo")

            transport.publish_raw("echo", hostile_ping(SENDER))

            props, _ = get_matching(channel, watched, lambda _p, body: b"reply." in body, timeout=15)
            assert props.headers[REASON_HEADER] == "undecodable: PingAgent.sender: over 255 bytes"
            answer = transport.ask(Envelope(id="good", sender="t", target="echo", body=PingAgent()), timeout=10)
            assert answer.result(10).body == PongAgent(agent_id="pong")  # the actor and the publisher go on
            assert ref.proxy().counters.get().get("handled", 0) == 1  # no handler saw the hostile one
            with pytest.raises(MessageError, match="target: the address is over 255 bytes"):
                transport.publish(Envelope(id="x", sender="t", target=SENDER, body=PingAgent()))
            with pytest.raises(Unpublishable, match="410 bytes"):
                transport.publish_raw(SENDER, hostile_ping("t"))
            transport.flush(10)
            assert transport.stats()["unconfirmed"] == 0
            ref.stop()
        finally:
            transport.close()


def test_a_journal_batch_the_codec_refuses_costs_the_journal_only() -> None:
    """A batch of copies over MAX_MESSAGE_BYTES (256 messages of 70 kB) is refused by the
    codec: the journal loses that batch and says so; the publish that filled it succeeds."""
    with private_vhost("mesobus-unpublishable") as url:
        transport = AmqpTransport(url, send_timeout=10)
        try:
            seen: list[str] = []
            transport.subscribe("box", lambda d: (seen.append(d.body), transport.ack(d)))
            for n in range(256):
                body = ShutdownAgent(message="x" * 70_000)
                transport.publish(Envelope(id=f"m{n}", sender="t", target="box", body=body))
            transport.flush(30)
            assert transport.stats()["unconfirmed"] == 0
            deadline = time.monotonic() + 30
            while len(seen) < 256 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(seen) == 256  # every message went out, the last one too
        finally:
            transport.close()
