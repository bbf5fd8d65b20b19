"""On a real broker (a private vhost): a command that would start a second master beside
a leading one refuses in one line, a broker that refuses the login is one line and exit 1
(not an outage to wait out), and an agent confirms its registration once."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


@pytest.fixture
def cluster(broker_url: str, tmp_path: Path):
    with private_vhost("mesobus-cli") as url:
        c = ProcessCluster(url, tmp_path / "cluster")
        try:
            yield c
        finally:
            c.stop()


def mesobus(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actors.cli.main", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_demo_refuses_beside_a_leading_master_and_leaves_it_alone(cluster) -> None:
    master = cluster.start_master()
    cluster.start_agent("h1")
    cluster.wait_ready()
    result = mesobus("demo", "--broker", cluster.url, "--tasks", "2", timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("mesobus demo: error: another master leads on amqp://guest:***@")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert master.alive()
    run = mesobus("run", "--broker", cluster.url, "--", "echo", "still-served", timeout=60)
    assert (run.returncode, run.stdout) == (0, "still-served\n"), f"{run.stderr}\n{cluster.logs()}"


def wrong_password(url: str) -> str:
    return url.replace("guest:guest@", "guest:not-the-password@")


def test_run_with_a_wrong_password_is_one_line_and_exit_1(cluster) -> None:
    result = mesobus("run", "--broker", wrong_password(cluster.url), "--", "true")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mesobus run: error: the broker refused access"), result.stderr
    assert "ACCESS_REFUSED" in lines[0] and "not-the-password" not in lines[0]


def test_a_master_with_a_wrong_password_does_not_stand_by_forever(cluster) -> None:
    started = time.monotonic()
    result = mesobus("master", "--broker", wrong_password(cluster.url), timeout=60)
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert result.stderr.startswith("mesobus master: error: the broker refused access") and \
        result.stderr.count("\n") == 1, result.stderr


def test_an_agent_says_once_that_it_registered(cluster) -> None:
    cluster.start_master()
    agent = cluster.start_agent("h1")
    cluster.wait_log(agent, "mesobus agent: registered as ", timeout=60)
    time.sleep(1.5)
    log = agent.tail(100_000)
    assert log.count("registered as ") == 1 and "with master" in log
    assert log.index("registering with the master") < log.index("registered as ")


def test_run_names_the_agent_its_task_is_stuck_staging_on(broker_url: str, tmp_path: Path) -> None:
    import signal

    with private_vhost("mesobus-cli") as url:
        c = ProcessCluster(url, tmp_path / "cluster", ping_interval=5.0, max_missed_pings=20)
        try:
            c.start_master()
            agent = c.start_agent("h1")
            c.wait_ready()
            c.wait_log(agent, "registered as ", timeout=60)
            agent.popen.send_signal(signal.SIGSTOP)  # alive to the master for a while, deaf to the launch
            proc = subprocess.Popen([sys.executable, "-m", "actors.cli.main", "run", "--broker", url, "--", "true"],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 60
                line = ""
                while "still STAGING" not in line and time.monotonic() < deadline:
                    line = proc.stderr.readline()
                    assert line, "mesobus run ended without naming the agent"
                assert line.startswith("mesobus run: still STAGING on agent h1 (last heard ")
            finally:
                proc.kill()
                proc.wait(10)
                agent.popen.send_signal(signal.SIGCONT)
        finally:
            c.stop()


def test_an_agent_with_a_wrong_password_is_one_line_and_exit_1(cluster, tmp_path: Path) -> None:
    result = mesobus("agent", "--broker", wrong_password(cluster.url), "--work-dir", str(tmp_path / "agent"),
                     timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("mesobus agent: error: the broker refused access") and \
        result.stderr.count("\n") == 1, result.stderr
    assert "not-the-password" not in result.stderr


def test_run_gives_up_on_a_broker_it_cannot_reach_after_its_timeout() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    result = mesobus("run", "--broker", f"amqp://guest:guest@127.0.0.1:{port}/%2F", "--timeout", "2", "--", "true",
                     timeout=60)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 30
    lines = [line for line in result.stderr.splitlines() if line.startswith("mesobus run:")]
    assert "waiting for the broker" in lines[0] and "gave up after 2s: cannot reach the broker" in lines[-1], lines
    assert "Traceback" not in result.stderr
