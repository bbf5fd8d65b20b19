"""`mesobus log show --follow` through a broker restart (a private node, never the shared
broker): it says once per attempt that the connection is gone, retries, and goes on from
the record after the last one it printed."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pika
import pytest

from messages import Envelope, PongAgent, encode
from rabbitmq.config import parse_url
from rabbitmq.connection import connection_parameters
from rabbitmq.journal import enable_stream
from rabbitmq.topology import EXCHANGE
from tests.support.broker_node import BrokerNode, private_broker  # noqa: F401  (fixture)
from tests.support.cluster_framework import ROOT

pytestmark = [pytest.mark.broker, pytest.mark.chaos]


def publish(url: str, *ids: str) -> None:
    """Journal records as a transport writes them: envelopes on the routing key `journal`,
    with the publisher's user_id (readers leave out records of unverified publishers)."""
    config = parse_url(url)
    connection = pika.BlockingConnection(connection_parameters(config))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(user_id=config.username)
        for msg_id in ids:
            env = Envelope(id=msg_id, sender="agent.a", target="master", body=PongAgent("a"), sent_at=time.time())
            channel.basic_publish(EXCHANGE, "journal", encode(env), properties)
    finally:
        connection.close()


def lines_of(stream) -> "queue.Queue[str | None]":
    out: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            out.put(line.rstrip("\n"))
        out.put(None)

    threading.Thread(target=read, daemon=True).start()
    return out


def wait_for(lines: "queue.Queue[str | None]", text: str, timeout: float = 60.0) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {text!r} within {timeout}s: {seen}") from None
        assert line is not None, f"ended before {text!r}: {seen}"
        seen.append(line)
        if text in line:
            return seen


def test_follow_survives_a_broker_restart_and_resumes_after_the_last_record(private_broker: BrokerNode) -> None:
    url = private_broker.url
    enable_stream(url)
    publish(url, "before-1", "before-2")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    follower = subprocess.Popen(
        [sys.executable, "-m", "actors.cli.main", "log", "show", "--broker", url, "--follow"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = lines_of(follower.stdout), lines_of(follower.stderr)
        wait_for(out, "before-2")
        private_broker.restart(down_for=3.0)
        wait_for(err, "lost the connection to the broker at", timeout=30)
        # A restarted node's stream takes a while to accept records again (a publish may be
        # lost meanwhile): publish until one shows up.
        shown: list[str] = []
        deadline = time.monotonic() + 90
        while not any("after-" in line for line in shown):
            assert time.monotonic() < deadline, f"nothing new shown after the restart: {shown}"
            try:
                publish(url, f"after-{len(shown)}-{time.monotonic():.0f}")
            except pika.exceptions.AMQPError:
                pass  # the node is not quite back
            try:
                shown.append(out.get(timeout=3))
            except queue.Empty:
                pass
            assert shown[-1:] != [None], f"follow ended: {shown}"
        assert not any("before-" in line for line in shown), shown  # resumed, not read again
        assert follower.poll() is None
        follower.send_signal(signal.SIGINT)
        assert follower.wait(30) == 130
        rest = []
        while (line := err.get(timeout=10)) is not None:
            rest.append(line)
        assert not any("Traceback" in line for line in rest), rest
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(10)
