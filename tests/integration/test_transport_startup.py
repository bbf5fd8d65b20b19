"""A process started while the broker is down waits for it (saying so), however long,
then works: no actor dies of `cannot subscribe ... not consuming after 30s`. The broker
is a private node, started only after the processes (never the shared one)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from actors.runtime import Actor, on
from messages import Envelope, PongAgent
from rabbitmq import AmqpTransport
from tests.support.broker_node import BrokerNode
from tests.support.cluster_framework import ROOT, ProcessCluster

pytestmark = [pytest.mark.broker, pytest.mark.chaos]

SEND_TIMEOUT = 2.0  # the outage deadline of publish()/subscribe(); startup waits past it


class Counter(Actor):
    def __init__(self, address: str, transport, seen: list, done: threading.Event) -> None:
        super().__init__(address, transport)
        self.seen, self.done = seen, done

    @on(PongAgent)
    def pong(self, message: PongAgent) -> None:
        self.seen.append((message.agent_id, self.sender_user))
        self.done.set()


def test_an_actor_started_before_its_broker_subscribes_once_the_broker_is_there(caplog) -> None:
    node = BrokerNode()  # not started yet: nothing listens on its port
    url = node.url + f"?send_timeout={SEND_TIMEOUT}&reconnect_max_delay=0.5"
    transport = AmqpTransport(url)
    seen: list = []
    done = threading.Event()
    started: dict = {}
    try:
        starter = threading.Thread(
            target=lambda: started.setdefault("ref", Counter.start("counter", transport, seen, done)), daemon=True,
        )
        starter.start()
        time.sleep(3 * SEND_TIMEOUT)  # well past the deadline that used to kill the actor
        assert starter.is_alive(), "the actor's start gave up while the broker was down"
        assert "cannot reach" in caplog.text  # the outage line, once per retry
        node.start()
        starter.join(60)
        ref = started["ref"]
        assert ref.is_alive(), "the actor died waiting for the broker"
        transport.publish(Envelope(id="m1", sender="test", target="counter", body=PongAgent(agent_id="late")))
        assert done.wait(20)
        assert seen == [("late", "guest")]
        ref.stop()
    finally:
        transport.close()
        node.destroy()


def test_an_agent_and_a_master_started_before_the_broker_register_and_run_a_task(tmp_path: Path) -> None:
    node = BrokerNode()
    url = node.url + f"?send_timeout={SEND_TIMEOUT}"
    cluster = ProcessCluster(url, tmp_path / "cluster")
    try:
        agent = cluster.start_agent("h1")
        master = cluster.start_master()
        time.sleep(5 * SEND_TIMEOUT)
        assert agent.alive() and master.alive(), cluster.logs()
        assert "cannot reach" in agent.tail(), agent.tail()  # it says what it waits for
        node.start()
        cluster.wait_ready(timeout=60)
        result = subprocess.run(
            [sys.executable, "-m", "actors.cli.main", "run", "--broker", url, "--", "sh", "-c", "echo started late"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert (result.stdout, result.returncode) == ("started late\n", 0), f"{result.stderr}\n{cluster.logs()}"
        assert "not consuming after" not in agent.tail(100_000), agent.tail()
    finally:
        cluster.stop()
        node.destroy()
