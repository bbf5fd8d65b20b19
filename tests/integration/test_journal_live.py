"""The journal commands against a live cluster on the real broker: each reads the stream
up to its end at the time of the call and stops, though the allocator journals several
times a second; `log show --follow` tails it until Ctrl-C; an unreachable broker or a
vhost without a journal stream is one line and exit 1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = [pytest.mark.broker]


def mesobus(*args: str, timeout: float = 90.0) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MESOBUS_BROKER", None)
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "actors.cli.main", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - began


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def live(tmp_path_factory, broker_url):
    """A master and an agent that keep running: the allocator journals every 0.2 s."""
    with private_vhost("mesobus-journal-live") as url:
        cluster = ProcessCluster(url, tmp_path_factory.mktemp("journal-live"))
        try:
            cluster.start_master()
            cluster.wait_ready()
            cluster.start_agent("h1")
            cluster.wait_ready()
            deadline = time.monotonic() + 60
            while "AgentAdded" not in mesobus("log", "show", "--broker", url, "--type", "AgentAdded")[0].stdout:
                assert time.monotonic() < deadline, cluster.logs()
                time.sleep(0.5)
            yield url, cluster
        finally:
            cluster.stop()


def test_log_show_ends_at_the_streams_end_on_a_live_cluster(live) -> None:
    url, cluster = live
    done, took = mesobus("log", "show", "--broker", url, "--journal-records")
    assert done.returncode == 0, done.stderr
    assert took < 30, f"took {took:.1f}s"
    assert "AllocationExplained" in done.stdout and "RegisterAgent" in done.stdout
    later, _ = mesobus("log", "show", "--broker", url, "--journal-records")
    assert len(later.stdout.splitlines()) > len(done.stdout.splitlines())  # the cluster went on
    assert all(p.alive() for p in cluster.procs), cluster.logs()


@pytest.mark.parametrize("args", [
    ["log", "show", "--until", "{now}"],
    ["log", "export", "--since", "{now_minus_60}", "--out", "{tmp}/window.msgpack"],
    ["log", "trace", "{agent_message}"],
    ["replay", "--actor", "allocator"],
], ids=lambda a: " ".join(a[:2]))
def test_every_reader_stops_on_a_live_cluster(live, tmp_path, args) -> None:
    url, _ = live
    shown, _ = mesobus("log", "show", "--broker", url, "--type", "RegisterAgent")
    values = {"now": str(time.time()), "now_minus_60": str(time.time() - 60), "tmp": str(tmp_path),
              "agent_message": shown.stdout.split()[1]}
    done, took = mesobus(*[a.format(**values) for a in args], "--broker", url)
    assert done.returncode == 0, done.stderr
    assert took < 30, f"took {took:.1f}s"
    assert done.stdout or "wrote" in done.stderr


def test_follow_prints_new_records_until_interrupted(live) -> None:
    url, _ = live
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    follower = subprocess.Popen(
        [sys.executable, "-m", "actors.cli.main", "log", "show", "--broker", url, "--follow",
         "--journal-records", "--type", "AllocationExplained"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        started = time.time()
        seen = []
        while not any(_at(line) > started + 1 for line in seen):  # a record written after it began
            line = follower.stdout.readline()
            assert line, f"follow ended: {follower.wait(5)} {follower.stderr.read()}"
            seen.append(line)
            assert time.time() < started + 60
        follower.send_signal(signal.SIGINT)
        assert follower.wait(30) == 130
        assert "Traceback" not in follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(10)


def _at(line: str) -> float:
    """The epoch time of a `log show` line printed today (local time, HH:MM:SS.mmm)."""
    clock = line.split()[0]
    h, m, s = clock.split(":")
    midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
    return midnight + int(h) * 3600 + int(m) * 60 + float(s)


def test_a_closed_port_is_one_line_and_exit_1() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    for command in (["log", "show"], ["replay", "--actor", "all"], ["log", "export", "--out", os.devnull + "x"]):
        done, took = mesobus(*command, "--broker", f"amqp://guest:guest@127.0.0.1:{port}/")
        assert done.returncode == 1
        assert f"cannot reach the broker at amqp://guest@127.0.0.1:{port}/%2F (connection refused)" in one_line(done.stderr)
        assert took < 30


def test_a_vhost_without_a_journal_stream_is_one_line_and_exit_1(broker_url) -> None:
    with private_vhost("mesobus-no-journal") as url:
        for command in (["log", "show"], ["log", "trace", "x"], ["replay", "--actor", "all"]):
            done, _ = mesobus(*command, "--broker", url)
            assert done.returncode == 1
            assert "has no journal: the stream mesobus.journal does not exist" in one_line(done.stderr)


def test_a_wrong_password_is_one_line_and_exit_1(broker_url) -> None:
    with private_vhost("mesobus-journal-login") as url:
        done, took = mesobus("log", "show", "--broker", url.replace("guest:guest@", "guest:wrong@"))
    assert done.returncode == 1 and took < 30
    assert "refused the login (ACCESS_REFUSED): check the user name and password" in one_line(done.stderr)
