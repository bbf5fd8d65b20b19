"""A reply to an address no AMQP frame can carry (a 410-byte routing key) used to stay in
the publisher for resending and wedge it after every reconnect. Now `publish()` refuses
it at once: the handler fails, its input is dead-lettered with the reason, and the actor
and the transport go on."""

from __future__ import annotations

import threading

import pytest

from actors.runtime import Actor, on
from messages import Envelope, PingAgent, PongAgent, encode
from rabbitmq import AmqpTransport, Unpublishable
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


class Echo(Actor):
    @on(PingAgent)
    def ping(self, _message: PingAgent) -> None:
        self.reply(PongAgent(agent_id="pong"))


def test_a_reply_to_an_unpublishable_address_is_refused_and_nothing_wedges() -> None:
    with private_vhost("mesobus-unpublishable") as url:
        transport = AmqpTransport(url, send_timeout=10)
        dead: list[str] = []
        got_dead = threading.Event()
        try:
            ref = Echo.start("echo", transport)
            transport.subscribe("dead", lambda d: (dead.append(d.body), transport.ack(d), got_dead.set()))
            sender = "reply." + "é" * 202  # 410 bytes: passes as text, fails as a routing key
            transport.publish_raw("echo", encode(Envelope(id="bad", sender=sender, target="echo", body=PingAgent())))
            assert got_dead.wait(15), "the message with the unpublishable reply address was not dead-lettered"
            answer = transport.ask(Envelope(id="good", sender="t", target="echo", body=PingAgent()), timeout=10)
            assert answer.result(10).body == PongAgent(agent_id="pong")  # the actor and the publisher go on
            assert transport.stats()["unconfirmed"] == 0
            with pytest.raises(Unpublishable, match="410 bytes"):
                transport.publish(Envelope(id="x", sender="t", target=sender, body=PingAgent()))
            ref.stop()
        finally:
            transport.close()
