"""Who sent a message is the broker's word, not the message's: every publish carries the
connection's user as `user_id` (RabbitMQ refuses any other), every delivery carries it;
a user the broker refuses gets AccessRefused at once, never an endless retry.

Runs on a private vhost with two broker users made by the test (and removed after)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Iterator
from urllib.parse import quote

import pika
import pika.exceptions
import pytest

from actors.runtime import AccessRefused, Delivery, TransportError
from messages import Envelope, PongAgent
from rabbitmq import AmqpTransport
from rabbitmq.topology import queue_name

pytestmark = pytest.mark.broker


def ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def vhost_users() -> Iterator[tuple[str, dict[str, str]]]:
    """A private vhost and two users with full rights on it: {name: url}."""
    tag = f"{os.getpid()}-{os.urandom(3).hex()}"
    vhost, users = f"mesobus-identity-{tag}", {"alice": f"alice-{tag}", "bob": f"bob-{tag}"}
    ctl("add_vhost", vhost)
    try:
        for user in users.values():
            ctl("add_user", user, "pw-" + user)
            ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        urls = {
            short: f"amqp://{user}:pw-{user}@127.0.0.1:5672/{quote(vhost, safe='')}" for short, user in users.items()
        }
        yield vhost, {"names": users, **urls}  # type: ignore[dict-item]
    finally:
        ctl("delete_vhost", vhost)
        for user in users.values():
            subprocess.run(["rabbitmqctl", "-q", "delete_user", user], capture_output=True, timeout=60)


def pong(target: str, n: int) -> Envelope:
    return Envelope(id=f"m{n}", sender="master", target=target, body=PongAgent(agent_id=str(n)))


@pytest.mark.parametrize("fast", ["1", "0"])
def test_every_delivery_carries_the_publishing_connections_user(vhost_users, fast: str) -> None:
    _vhost, users = vhost_users
    alice = AmqpTransport(users["alice"] + f"?fast={fast}")
    bob = AmqpTransport(users["bob"] + f"?fast={fast}")
    got: list[Delivery] = []
    done = threading.Event()

    def on_delivery(delivery: Delivery) -> None:
        got.append(delivery)
        alice.ack(delivery)
        if len(got) == 3:
            done.set()

    try:
        assert alice.user == users["names"]["alice"] and bob.user == users["names"]["bob"]
        alice.subscribe("inbox", on_delivery)
        bob.publish(pong("inbox", 1))
        alice.publish(pong("inbox", 2))  # the envelope says "master" each time: it proves nothing
        bob.publish(pong("inbox", 3))
        assert done.wait(10), f"only {len(got)} deliveries arrived"
        senders = sorted((d.body, d.user_id) for d in got)
        assert [user for _body, user in senders].count(users["names"]["bob"]) == 2
        assert [user for _body, user in senders].count(users["names"]["alice"]) == 1
    finally:
        alice.close()
        bob.close()


def test_a_forged_user_id_is_refused_by_the_broker(vhost_users) -> None:
    _vhost, users = vhost_users
    connection = pika.BlockingConnection(pika.URLParameters(users["bob"]))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        forged = pika.BasicProperties(delivery_mode=2, user_id=users["names"]["alice"])
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="PRECONDITION_FAILED.*user_id"):
            channel.basic_publish("mesobus", "inbox", b"I am alice", forged)
    finally:
        if connection.is_open:
            connection.close()


def test_a_wrong_password_raises_access_refused_at_once_naming_user_and_vhost(vhost_users) -> None:
    vhost, users = vhost_users
    url = users["alice"].replace("pw-", "wrong-", 1)
    started = time.monotonic()
    transport = AmqpTransport(url, send_timeout=30)
    try:
        with pytest.raises(AccessRefused) as refused:
            transport.subscribe("inbox", transport.ack)
        assert time.monotonic() - started < 10, "an access refusal must not be waited out like an outage"
        message = str(refused.value)
        assert "\n" not in message
        assert users["names"]["alice"] in message and vhost in message and "ACCESS_REFUSED" in message
        with pytest.raises(AccessRefused):  # publishing too, at once
            transport.publish(pong("inbox", 1))
        assert isinstance(refused.value, TransportError)
    finally:
        transport.close()


def test_a_user_without_access_to_the_vhost_gets_access_refused(vhost_users) -> None:
    vhost, users = vhost_users
    outsider = f"outsider-{os.getpid()}-{os.urandom(2).hex()}"
    ctl("add_user", outsider, "pw")
    try:
        url = f"amqp://{outsider}:pw@127.0.0.1:5672/{quote(vhost, safe='')}"
        transport = AmqpTransport(url, send_timeout=30)
        try:
            started = time.monotonic()
            with pytest.raises(AccessRefused, match=f"{outsider}.*{vhost}"):
                transport.publish(pong("inbox", 1))
            assert time.monotonic() - started < 10
        finally:
            transport.close()
    finally:
        ctl("delete_user", outsider)


def test_no_permission_on_a_queue_is_access_refused_for_that_subscribe(vhost_users) -> None:
    vhost, users = vhost_users
    limited = f"limited-{os.getpid()}-{os.urandom(2).hex()}"
    ctl("add_user", limited, "pw")
    # may declare and read only its own queue; every exchange is writable
    ctl("set_permissions", "-p", vhost, limited, "^(mesobus|mesobus\\.dlx|mesobus\\.dead|mesobus\\.mine)$",
        "^(mesobus|mesobus\\.dlx|mesobus\\.dead|mesobus\\.mine)$", "^(mesobus|mesobus\\.dlx|mesobus\\.dead|mesobus\\.mine)$")
    try:
        url = f"amqp://{limited}:pw@127.0.0.1:5672/{quote(vhost, safe='')}"
        transport = AmqpTransport(url, send_timeout=20)
        try:
            transport.subscribe("mine", transport.ack)
            with pytest.raises(AccessRefused, match=f"cannot subscribe theirs.*{limited}"):
                transport.subscribe("theirs", transport.ack)
            transport.publish(pong("mine", 1))  # the connection is still good
            transport.flush(10)
        finally:
            transport.close()
    finally:
        ctl("delete_user", limited)
        with_vhost = users["alice"]
        connection = pika.BlockingConnection(pika.URLParameters(with_vhost))
        connection.channel().queue_delete(queue_name("mine"))
        connection.close()


def test_the_journal_tools_connections_say_access_refused_too(vhost_users) -> None:
    from rabbitmq.journal import read_stream

    vhost, users = vhost_users
    with pytest.raises(AccessRefused, match=f"{users['names']['bob']}.*{vhost}"):
        next(read_stream(users["bob"].replace("pw-", "wrong-", 1)))


def test_a_standby_masters_leader_lock_says_access_refused(vhost_users) -> None:
    """A master that stands by for the lock does not wait forever on a wrong password."""
    from rabbitmq.config import parse_url
    from rabbitmq.leader import LeaderLock

    vhost, users = vhost_users
    lock = LeaderLock(parse_url(users["bob"].replace("pw-", "wrong-", 1)), holder="a master with a wrong password")
    try:
        started = time.monotonic()
        with pytest.raises(AccessRefused, match=f"{users['names']['bob']}.*{vhost}"):
            lock.acquire(threading.Event())
        assert time.monotonic() - started < 30
    finally:
        lock.close()
