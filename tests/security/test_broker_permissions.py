"""The broker enforces who reads and writes what: users made with `mesobus auth` on a
private vhost, then plain pika as an attacker holding a framework's or an agent's
credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pika
import pika.exceptions
import pytest

from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]


def auth(*words: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "actors.cli.main", "auth", *words], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def cluster_users(tmp_path_factory):
    """A private vhost with a master, a framework and an agent principal (made by
    `mesobus auth`), their URLs; the users are deleted afterwards."""
    tag = os.urandom(3).hex()
    names = {"master": f"msbm_{tag}", "framework": f"msbf_{tag}", "agent": f"msba_{tag}"}
    pw = tmp_path_factory.mktemp("pw") / "pw"
    pw.write_text("s3cret-for-tests\n")
    with private_vhost("mesobus-sec") as guest_url:
        vhost = guest_url.rsplit("/", 1)[1]
        try:
            for kind, name in names.items():
                done = auth(f"add-{kind}", name, "--vhost", vhost.replace("%2F", "/"), "--password-file", str(pw))
                assert done.returncode == 0, done.stderr
            urls = {kind: f"amqp://{name}:s3cret-for-tests@127.0.0.1:5672/{vhost}" for kind, name in names.items()}
            with channel(urls["master"]) as ch:  # the master's mailbox, as a master declares it
                ch.exchange_declare("mesobus", "topic", durable=True)
                ch.queue_declare("mesobus.master", durable=True)
                ch.queue_bind("mesobus.master", "mesobus", "master")
            yield names, urls
        finally:
            for name in names.values():
                auth("remove", name)


@contextmanager
def channel(url: str):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = connection.channel()
        ch.confirm_delivery()
        yield ch
    finally:
        if connection.is_open:
            connection.close()


def refused(url: str, action) -> str:
    """Run `action(channel)`; returns the broker's refusal (the test fails if it is allowed)."""
    with channel(url) as ch:
        try:
            action(ch)
            ch.basic_qos(prefetch_count=1)  # a round trip: an asynchronous refusal arrives
        except pika.exceptions.ChannelClosedByBroker as err:
            return f"{err.reply_code} {err.reply_text}"
    pytest.fail("the broker allowed it")


def test_a_framework_cannot_consume_the_masters_mailbox(cluster_users):
    names, urls = cluster_users
    why = refused(urls["framework"], lambda ch: ch.basic_consume("mesobus.master", lambda *a: None))
    assert why.startswith("403")


def test_a_framework_cannot_bind_a_queue_to_read_all_traffic(cluster_users):
    names, urls = cluster_users
    own = f"mesobus.framework.{names['framework']}-f1"

    def bind_everything(ch):
        ch.queue_declare(own, durable=True)
        ch.queue_bind(own, "mesobus", "#")

    assert refused(urls["framework"], bind_everything).startswith("403")
    assert refused(urls["framework"], lambda ch: ch.queue_declare("mesobus.spy", durable=True)).startswith("403")


def test_a_framework_cannot_publish_to_an_agent_or_the_allocator(cluster_users):
    names, urls = cluster_users
    for key in (f"agent.{names['agent']}-a1", "allocator", f"framework.{names['framework']}x-f1", "group.master.agents"):
        why = refused(urls["framework"], lambda ch: ch.basic_publish("mesobus", key, b"forged"))
        assert why.startswith("403"), key


def test_a_framework_uses_its_own_queues_and_reaches_the_master(cluster_users):
    names, urls = cluster_users
    own = f"framework.{names['framework']}-f1"
    with channel(urls["framework"]) as ch:
        ch.queue_declare(f"mesobus.{own}", durable=True)
        ch.queue_bind(f"mesobus.{own}", "mesobus", own)
        ch.queue_bind(f"mesobus.{own}", "mesobus", "group.master.frameworks")
        ch.basic_publish("mesobus", "master", b"hello", pika.BasicProperties(user_id=names["framework"]))
        ch.basic_consume(f"mesobus.{own}", lambda *a: None)
    with channel(urls["master"]) as ch:
        method, props, body = ch.basic_get("mesobus.master", auto_ack=True)
        assert body == b"hello" and props.user_id == names["framework"]


def test_a_principal_cannot_publish_as_another(cluster_users):
    names, urls = cluster_users
    forged = pika.BasicProperties(user_id=names["master"])
    why = refused(urls["framework"], lambda ch: ch.basic_publish("mesobus", "master", b"x", forged))
    assert why.startswith("406")  # RabbitMQ checks user_id against the connection's user


def test_an_agent_reaches_its_executors_and_the_master_but_no_framework(cluster_users):
    names, urls = cluster_users
    agent = f"agent.{names['agent']}-a1"
    with channel(urls["agent"]) as ch:
        ch.queue_declare(f"mesobus.{agent}", durable=True)
        ch.queue_bind(f"mesobus.{agent}", "mesobus", agent)
        ch.queue_bind(f"mesobus.{agent}", "mesobus", "group.master.agents")
        ch.basic_publish("mesobus", "master", b"x")
        ch.basic_publish("mesobus", f"executor.{names['agent']}-a1.f1.mesobus-command", b"x")
    why = refused(urls["agent"], lambda ch: ch.basic_publish("mesobus", f"framework.{names['framework']}-f1", b"x"))
    assert why.startswith("403")
    assert refused(urls["agent"], lambda ch: ch.queue_declare(f"mesobus.agent.other-a1", durable=True)).startswith("403")


def test_auth_errors_are_one_line(tmp_path):
    done = auth("add-framework", "ok_name", "--password-file", str(tmp_path / "missing"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_auth_on_a_missing_vhost_leaves_no_user_behind():
    name = f"msbx_{os.urandom(3).hex()}"
    done = auth("add-master", name, "--vhost", f"no-such-vhost-{name}")
    assert done.returncode == 1 and "no such virtual host" in done.stderr and done.stderr.count("\n") == 1
    users = subprocess.run(["rabbitmqctl", "-q", "list_users"], capture_output=True, text=True, timeout=60).stdout
    assert name not in {line.split("\t")[0] for line in users.splitlines()}


def test_auth_without_an_action_and_with_a_missing_password_file_say_so_in_one_line(tmp_path):
    done = auth()
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "mesobus auth: error: give an action: add-master, add-agent, add-framework or remove (see mesobus auth --help)"]
    done = auth("add-agent", "ok_name", "--password-file", str(tmp_path / "missing"))
    assert done.stderr.strip() == f"mesobus auth: error: --password-file {tmp_path / 'missing'}: No such file or directory"
