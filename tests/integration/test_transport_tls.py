"""The transport over amqps:// against a private node with a TLS listener (certificates
made by the test, tests/support/broker_node.py): the contract holds on the fast path and
on pika's public API, peers are verified by default, a bad certificate is one clear
error at once (not an outage retried forever), and a whole cluster runs over TLS."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from actors.runtime import Actor, Delivery, on
from messages import Envelope, PingAgent, PongAgent
from rabbitmq import AmqpTransport, CertificateRejected, parse_url
from tests.support.broker_node import BrokerNode, broker_node
from tests.support.cluster_framework import ROOT, ProcessCluster

pytestmark = [pytest.mark.broker, pytest.mark.chaos]


@pytest.fixture(scope="module")
def tls_node() -> Iterator[BrokerNode]:
    with broker_node(tls=True) as node:
        yield node


class Echo(Actor):
    @on(PingAgent)
    def ping(self, _message: PingAgent) -> None:
        self.reply(PongAgent(agent_id=self.sender_user))


def test_peer_verification_is_on_by_default() -> None:
    context = parse_url("amqps://u:p@broker.example/%2F").tls
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("fast", ["1", "0"])
def test_publish_consume_ask_and_dead_letters_over_tls(tls_node: BrokerNode, fast: str) -> None:
    transport = AmqpTransport(f"{tls_node.tls_url}&fast={fast}", send_timeout=10)
    address = f"tls-{fast}"
    got: list[Delivery] = []
    enough = threading.Event()

    def on_delivery(delivery: Delivery) -> None:
        got.append(delivery)
        if len(got) % 2:
            transport.ack(delivery)
        else:
            transport.dead_letter(delivery, "even")
        if len(got) == 2000:
            enough.set()

    try:
        transport.subscribe(address, on_delivery)
        for n in range(2000):
            transport.publish(Envelope(id=f"m{n}", sender="t", target=address, body=PongAgent(agent_id=str(n))))
        assert enough.wait(30), f"{len(got)} of 2000 over TLS"
        assert {d.user_id for d in got} == {"guest"}
        ref = Echo.start(f"echo-{fast}", transport)
        reply = transport.ask(Envelope(id="q", sender="t", target=f"echo-{fast}", body=PingAgent()), timeout=10)
        assert reply.result(10).body == PongAgent(agent_id="guest")
        ref.stop()
        transport.flush(10)
        assert transport.stats()["dead_lettered"] == 1000
    finally:
        transport.close()


def test_a_certificate_from_an_untrusted_ca_is_one_clear_error_at_once(tls_node: BrokerNode) -> None:
    url = tls_node.tls_url.replace("ca.pem", "other_ca.pem")
    transport = AmqpTransport(url, send_timeout=30)
    try:
        started = time.monotonic()
        with pytest.raises(CertificateRejected) as rejected:
            transport.subscribe("anything", transport.ack)
        assert time.monotonic() - started < 10
        message = str(rejected.value)
        assert "\n" not in message and "failed verification" in message and str(tls_node.tls_port) in message
    finally:
        transport.close()


def test_a_certificate_for_another_host_name_is_rejected(tls_node: BrokerNode) -> None:
    transport = AmqpTransport(f"{tls_node.tls_url}&server_name=broker.example", send_timeout=30)
    try:
        with pytest.raises(CertificateRejected, match="broker.example"):
            transport.publish(Envelope(id="m", sender="t", target="x", body=PingAgent()))
    finally:
        transport.close()


def test_a_cluster_runs_a_task_over_tls(tls_node: BrokerNode, tmp_path: Path) -> None:
    cluster = ProcessCluster(tls_node.tls_url, tmp_path / "cluster")
    try:
        cluster.start_master()
        cluster.start_agent("h1")
        cluster.wait_ready(timeout=60)
        result = subprocess.run(
            [sys.executable, "-m", "actors.cli.main", "run", "--broker", tls_node.tls_url, "--",
             "sh", "-c", "echo over tls"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert (result.stdout, result.returncode) == ("over tls\n", 0), f"{result.stderr}\n{cluster.logs()}"
    finally:
        cluster.stop()
