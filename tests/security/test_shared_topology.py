"""The shared topology is the master's: a framework or agent principal (made by `mesobus
auth`) can neither delete (configure) the exchanges or the dead-letter queue nor bind a
queue of its own to `mesobus.dlx` to read dead letters, yet its processes start as before
(they find the topology declared) and what they dead-letter still arrives."""

from __future__ import annotations

import time

import pika

from actors.connect import connect_transport
from messages import Envelope
from messages.framework import Revive
from tests.security.test_broker_permissions import channel, cluster_users, refused  # noqa: F401  (a fixture)


def test_a_principal_cannot_bind_its_own_queue_to_the_dead_letter_exchange(cluster_users):  # noqa: F811
    names, urls = cluster_users
    for kind, own in (("framework", f"mesobus.framework.{names['framework']}-f1"),
                      ("agent", f"mesobus.agent.{names['agent']}-a1")):
        def bind_dead_letters(ch, own=own):
            ch.queue_declare(own, durable=True)
            ch.queue_bind(own, "mesobus.dlx", "#")

        assert refused(urls[kind], bind_dead_letters).startswith("403"), kind


def test_a_principal_cannot_delete_or_redeclare_the_shared_exchanges_and_dead_queue(cluster_users):  # noqa: F811
    names, urls = cluster_users
    with channel(urls["master"]) as ch:
        ch.exchange_declare("mesobus.dlx", "topic", durable=True)
        ch.queue_declare("mesobus.dead", durable=True, arguments={
            "x-queue-type": "classic", "x-max-length-bytes": 256 * 2**20, "x-overflow": "drop-head"})
    for kind in ("framework", "agent"):
        for action in (lambda ch: ch.exchange_delete("mesobus"), lambda ch: ch.exchange_delete("mesobus.dlx"),
                       lambda ch: ch.queue_delete("mesobus.dead"),
                       lambda ch: ch.exchange_declare("mesobus", "topic", durable=True)):
            assert refused(urls[kind], action).startswith("403"), kind
    with channel(urls["framework"]) as ch:  # looking is allowed: that is how its processes find them
        ch.exchange_declare("mesobus", passive=True)
        ch.queue_declare("mesobus.dead", passive=True)


def test_a_frameworks_transport_starts_and_its_dead_letters_reach_the_dead_queue(cluster_users):  # noqa: F811
    names, urls = cluster_users
    with channel(urls["master"]) as ch:  # the master's topology: the dead queue bound to the dlx
        ch.exchange_declare("mesobus.dlx", "topic", durable=True)
        ch.queue_declare("mesobus.dead", durable=True, arguments={
            "x-queue-type": "classic", "x-max-length-bytes": 256 * 2**20, "x-overflow": "drop-head"})
        ch.queue_bind("mesobus.dead", "mesobus.dlx", "#")
        ch.queue_purge("mesobus.dead")
    transport = connect_transport(urls["framework"] + "?journal=0")
    try:
        # its own executor's address: allowed to publish to, but no queue is bound, so the
        # transport dead-letters it (to mesobus.dlx)
        target = f"executor.agent1-a1.{names['framework']}-f1.e1"
        transport.publish(Envelope(id="dl-1", sender=f"framework.{names['framework']}-f1", target=target,
                                   body=Revive(framework_id=f"{names['framework']}-f1"), sent_at=time.time()))
        deadline, got = time.monotonic() + 20, None
        while got is None and time.monotonic() < deadline:
            with channel(urls["master"]) as ch:
                method, props, body = ch.basic_get("mesobus.dead", auto_ack=True)
                got = (props, body) if method is not None else None
            if got is None:
                time.sleep(0.2)
        assert got is not None, "the dead letter did not reach mesobus.dead"
        assert got[0].headers.get("x-mesobus-address") == target
    finally:
        transport.close()


def test_on_a_vhost_no_master_prepared_a_framework_stops_at_once_saying_why(tmp_path):
    import os
    import subprocess
    import sys

    from tests.support.cluster_framework import ROOT
    from tests.support.vhost import private_vhost

    fw = f"nt_{os.urandom(3).hex()}"
    (tmp_path / "pw").write_text("pw-notopo\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with private_vhost("mesobus-notopo") as url:
        vhost = url.rsplit("/", 1)[1]
        try:
            done = subprocess.run([sys.executable, "-m", "actors.cli.main", "auth", "add-framework", fw, "--vhost", vhost,
                                   "--password-file", str(tmp_path / "pw")], capture_output=True, text=True, env=env,
                                  timeout=120)
            assert done.returncode == 0, done.stderr
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "actors.cli.main", "run", "--broker",
                                   f"amqp://{fw}:pw-notopo@127.0.0.1:5672/{vhost}", "--", "true"],
                                  capture_output=True, text=True, env=env, timeout=120)
            assert done.returncode == 1 and time.monotonic() - started < 20
            last = done.stderr.strip().splitlines()[-1]
            assert last.startswith("mesobus run: error:") and "no exchange 'mesobus' on this vhost" in last
            assert "definitions.json" in last and "pw-notopo" not in done.stderr
        finally:
            subprocess.run(["rabbitmqctl", "-q", "delete_user", fw], capture_output=True, timeout=60)
