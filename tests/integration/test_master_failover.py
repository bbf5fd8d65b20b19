"""Masters on one broker: one leads, another stands by and takes over when the leader's
process is killed; the agent re-registers with it at once and a task runs (a private vhost).
The lock itself: released on close, lost when its broker goes away (a private node)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from rabbitmq import parse_url
from rabbitmq.leader import LeaderLock
from tests.support.broker_node import BrokerNode, private_broker  # noqa: F401  (fixture)
from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


def test_a_standby_master_takes_over_when_the_leader_is_killed(broker_url: str, tmp_path: Path) -> None:
    with private_vhost("mesobus-failover") as url:
        # Mesos' default ping timeout (15 s x 5): the agent must not wait for it, since the
        # new leader's call to every agent makes it re-register at once.
        cluster = ProcessCluster(url, tmp_path / "cluster", ping_interval=15.0, max_missed_pings=5)
        try:
            leader = cluster.start_master(name="master")
            cluster.start_agent("h1")
            cluster.wait_ready()
            standby = cluster.start_master(name="master-2")
            cluster.wait_log(standby, "standing by: another master leads")
            time.sleep(1.5)
            assert "leading" not in standby.tail(), "two masters lead at once"

            cluster.kill(leader)
            cluster.wait_log(standby, "mesobus master: leading", timeout=15)
            assert epoch_of(standby) > epoch_of(leader) > 0
            started = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-m", "actors.cli.main", "run", "--broker", url, "--", "sh", "-c", "echo after failover"],
                cwd=ROOT, capture_output=True, text=True, timeout=90,
            )
            assert (result.stdout, result.returncode) == ("after failover\n", 0), f"{result.stderr}\n{cluster.logs()}"
            assert time.monotonic() - started < 45, "the agent waited for its ping timeout (75 s)"
        finally:
            cluster.stop()


def epoch_of(master) -> int:
    found = re.search(r"leading on \S+ \(epoch (\d+)\)", master.tail(100_000))
    assert found, master.tail()
    return int(found.group(1))


def standby_until_led(lock: LeaderLock, stop: threading.Event, reasons: list[str]) -> threading.Thread:
    thread = threading.Thread(target=lambda: lock.acquire(stop, on_standby=reasons.append), daemon=True)
    thread.start()
    return thread


def test_the_lock_passes_to_a_standby_when_its_holder_closes(broker_url: str) -> None:
    with private_vhost("mesobus-lock") as url:
        stop = threading.Event()
        first, second = LeaderLock(parse_url(url), "first", retry=0.2), LeaderLock(parse_url(url), "second", retry=0.2)
        try:
            assert first.acquire(stop)
            reasons: list[str] = []
            waiting = standby_until_led(second, stop, reasons)
            time.sleep(1.0)
            assert waiting.is_alive() and reasons == ["another master leads"]
            first.close()
            waiting.join(10)
            assert not waiting.is_alive() and not second.lost.is_set()
        finally:
            stop.set()
            first.close()
            second.close()


def test_the_holder_learns_it_lost_the_lock_when_the_broker_goes_away(private_broker: BrokerNode) -> None:
    stop = threading.Event()
    lock = LeaderLock(parse_url(private_broker.url + "?heartbeat=2"), "holder", retry=0.2)
    try:
        assert lock.acquire(stop)
        private_broker.stop()
        assert lock.lost.wait(15), "the holder did not notice that its lock is gone"
    finally:
        stop.set()
        lock.close()
        private_broker.start()


def close_connections_of(url: str) -> int:
    """Make the broker drop every connection to the vhost of `url` (as missed heartbeats would)."""
    vhost = unquote(url.rsplit("/", 1)[1].split("?")[0])
    out = subprocess.run(["rabbitmqctl", "-q", "list_connections", "pid", "vhost", "--no-table-headers"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    pids = [line.split("\t")[0] for line in out.splitlines() if line.split("\t")[1:2] == [vhost]]
    for pid in pids:
        subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: the leader is cut off"],
                       capture_output=True, timeout=60, check=True)
    return len(pids)


def test_a_deposed_leader_whose_transport_reconnects_never_takes_another_message(broker_url: str) -> None:
    from messages import Envelope, PingAgent

    with private_vhost("mesobus-fence") as url:
        stop = threading.Event()
        first = LeaderLock(parse_url(url), "first", retry=0.1)
        second = LeaderLock(parse_url(url), "second", retry=0.1)
        taken: dict[str, list] = {"first": [], "second": []}
        try:
            assert first.acquire(stop)
            first.transport.subscribe("master", lambda d: (taken["first"].append(d), first.transport.ack(d)),
                                      exclusive=True)
            assert close_connections_of(url) == 1
            assert first.lost.wait(15), "the holder did not learn that its lock is gone"
            deadline = time.monotonic() + 15
            while not first.transport.connected:  # its transport reconnects by itself...
                assert time.monotonic() < deadline, "the deposed transport did not reconnect"
                time.sleep(0.05)
            first.transport.publish(Envelope(id="m1", sender="test", target="master", body=PingAgent()))
            first.transport.flush()
            time.sleep(1.5)  # ...but never consumes again: the message waits for the next leader
            assert taken["first"] == []

            assert second.acquire(stop)
            second.transport.subscribe("master", lambda d: (taken["second"].append(d), second.transport.ack(d)),
                                       exclusive=True)
            deadline = time.monotonic() + 15
            while not taken["second"]:
                assert time.monotonic() < deadline, "the new leader did not get the waiting message"
                time.sleep(0.05)
            assert taken["first"] == [] and len(taken["second"]) == 1
        finally:
            stop.set()
            first.close()
            second.close()


def test_mesobus_local_on_a_broker_refuses_to_run_beside_a_leading_master(broker_url: str) -> None:
    with private_vhost("mesobus-local") as url:
        stop = threading.Event()
        leader = LeaderLock(parse_url(url), "a master")
        try:
            assert leader.acquire(stop)
            result = subprocess.run(
                [sys.executable, "-m", "actors.cli.main", "local", "--broker", url, "--no-journal"],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
            )
            assert result.returncode == 1
            assert "mesobus local: error: another master leads on" in result.stderr
            assert "use another vhost" in result.stderr
        finally:
            leader.close()


def test_a_standby_without_a_broker_says_so_keeps_trying_and_stops_when_told() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()
    lock = LeaderLock(parse_url(f"amqp://guest:guest@127.0.0.1:{port}/%2F?connection_timeout=2"), "x", retry=0.1)
    reasons: list[str] = []
    waiting = standby_until_led(lock, stop, reasons)
    try:
        time.sleep(1.0)
        assert waiting.is_alive() and len(reasons) == 1 and reasons[0].startswith("no broker:")
    finally:
        stop.set()
        waiting.join(10)
        lock.close()
    assert not waiting.is_alive() and lock.epoch == 0


def consumers_of(url: str, queue: str) -> int:
    vhost = unquote(url.rsplit("/", 1)[1].split("?")[0])
    out = subprocess.run(["rabbitmqctl", "-q", "list_consumers", "-p", vhost, "--no-table-headers", "queue_name"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return sum(1 for line in out.splitlines() if line.strip() == queue)


def test_a_frozen_leader_that_lost_its_lock_handles_nothing_when_resumed_and_exits(
    broker_url: str, tmp_path: Path,
) -> None:
    with private_vhost("mesobus-frozen") as url:
        fast = url + "?heartbeat=2"  # the broker drops a silent connection after ~2 heartbeats
        cluster = ProcessCluster(fast, tmp_path / "cluster", ping_interval=15.0, max_missed_pings=5)
        try:
            leader = cluster.start_master(name="master")
            cluster.start_agent("h1")
            cluster.wait_ready()
            standby = cluster.start_master(name="master-2")
            cluster.wait_log(standby, "standing by: another master leads")

            os.kill(leader.pid, signal.SIGSTOP)  # frozen past its heartbeats: the broker drops its lock
            cluster.wait_log(standby, "mesobus master: leading", timeout=30)
            assert epoch_of(standby) > epoch_of(leader) > 0
            assert consumers_of(url, "mesobus.master") == 1 and consumers_of(url, "mesobus.allocator") == 1

            os.kill(leader.pid, signal.SIGCONT)  # it wakes up, its transport reconnects by itself...
            leader.popen.wait(30)  # ...and it steps down instead of consuming again
            assert leader.popen.returncode == 1, leader.tail()
            assert "lost the leader lock" in leader.tail()
            assert leader.tail(100_000).count("mesobus master: leading") == 1
            # Never two consumers: the standby's are the only ones, before and after.
            assert consumers_of(url, "mesobus.master") == 1 and consumers_of(url, "mesobus.allocator") == 1

            # The new leader runs the cluster: a task runs on the agent, which follows it.
            result = subprocess.run(
                [sys.executable, "-m", "actors.cli.main", "run", "--broker", url, "--", "sh", "-c", "echo after thaw"],
                cwd=ROOT, capture_output=True, text=True, timeout=90,
            )
            assert (result.stdout, result.returncode) == ("after thaw\n", 0), f"{result.stderr}\n{cluster.logs()}"
            assert standby.alive()
        finally:
            cluster.stop()
