"""A cluster where every part is its own principal (users made by `mesobus auth` on a
private vhost, so the broker enforces their permissions): it runs tasks, and what one
framework's credentials allow cannot hurt the agent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pika
import pika.exceptions
import pytest

from tests.security.requirements import NEEDS_USERS, transport_stamps_users
from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.fuzz import _agent_address, _envelope
from tests.support.vhost import private_vhost

pytestmark = [pytest.mark.broker, pytest.mark.xfail(not transport_stamps_users(), reason=NEEDS_USERS, strict=False)]


def auth(*words: str) -> None:
    done = subprocess.run([sys.executable, "-m", "actors.cli.main", "auth", *words], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def principals(tmp_path):
    tag = os.urandom(3).hex()
    names = {"master": f"pm_{tag}", "agent": f"pa_{tag}", "framework": f"pf_{tag}"}
    pw = tmp_path / "pw"
    pw.write_text("cluster-secret\n")
    with private_vhost("mesobus-principals") as guest_url:
        vhost = guest_url.rsplit("/", 1)[1]
        try:
            for kind, name in names.items():
                auth(f"add-{kind}", name, "--vhost", vhost, "--password-file", str(pw))
            yield names, {k: f"amqp://{n}:cluster-secret@127.0.0.1:5672/{vhost}" for k, n in names.items()}
        finally:
            for name in names.values():
                subprocess.run(["rabbitmqctl", "-q", "delete_user", name], capture_output=True, timeout=60)


def test_a_cluster_of_principals_runs_tasks_and_refuses_a_frameworks_forgeries(principals, tmp_path):
    names, urls = principals
    cluster = ProcessCluster(urls["master"], tmp_path / "cluster")
    try:
        master = cluster.start_master()
        cluster.wait_log(master, "mesobus master: leading")
        agent = cluster.mesobus("agent-h1", "agent", "--broker", urls["agent"], "--work-dir", str(tmp_path / "h1"),
                                "--resources", "cpus:2;mem:1024", "--hostname", "h1",
                                "--master-principal", names["master"])
        cluster.wait_log(agent, "Ctrl-C to stop")
        agent_address = _agent_address(urls["master"])
        assert agent_address.startswith(f"agent.{names['agent']}-")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MESOBUS_MASTER_PRINCIPAL": names["master"]}
        done = subprocess.run([sys.executable, "-m", "actors.cli.main", "run", "--broker", urls["framework"], "--",
                               "echo", "ran"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        assert (done.returncode, done.stdout) == (0, "ran\n"), f"{done.stderr}\n{cluster.logs()}"

        # The framework's credentials: the agent's mailbox is out of reach, and what it
        # sends the master in the agent's name is refused there.
        connection = pika.BlockingConnection(pika.URLParameters(urls["framework"]))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            agent_id = agent_address.split(".", 1)[1]
            forged = _envelope("master", "UnregisterAgent", {"agent_id": agent_id}, sender=agent_address)
            channel.basic_publish("mesobus", "master", forged, pika.BasicProperties(user_id=names["framework"]))
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
                channel.basic_publish("mesobus", agent_address, _envelope(agent_address, "PingAgent", {"connected": True}))
            assert refused.value.reply_code == 403
        finally:
            if connection.is_open:
                connection.close()
        deadline = time.monotonic() + 10
        while "refusing UnregisterAgent" not in master.tail(200_000) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "refusing UnregisterAgent" in master.tail(200_000), cluster.logs()
        done = subprocess.run([sys.executable, "-m", "actors.cli.main", "run", "--broker", urls["framework"], "--",
                               "true"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, f"the agent was lost after a forgery: {done.stderr}\n{cluster.logs()}"
    finally:
        cluster.stop()


def test_mesobus_run_shows_the_output_live_through_the_master_and_forged_output_is_refused(principals, tmp_path):
    """The framework's and the agent's principals differ, so the broker lets the executor
    reach no framework: the master relays the output (actors/master/output_relay.py), and
    it shows while the task runs, whole (more than the 32 KiB tail a terminal status holds)."""
    import threading

    names, urls = principals
    cluster = ProcessCluster(urls["master"], tmp_path / "cluster")
    try:
        master = cluster.start_master()
        cluster.wait_log(master, "mesobus master: leading")
        agent = cluster.mesobus("agent-h1", "agent", "--broker", urls["agent"], "--work-dir", str(tmp_path / "h1"),
                                "--resources", "cpus:2;mem:1024", "--hostname", "h1",
                                "--master-principal", names["master"])
        cluster.wait_log(agent, "Ctrl-C to stop")
        agent_id = _agent_address(urls["master"]).split(".", 1)[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MESOBUS_MASTER_PRINCIPAL": names["master"]}
        run = subprocess.Popen([sys.executable, "-m", "actors.cli.main", "run", "--broker", urls["framework"], "--",
                                "seq 1 20000; sleep 4; echo end"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
        lines: list[tuple[float, bytes]] = []
        reader = threading.Thread(target=lambda: lines.extend((time.monotonic(), line) for line in run.stdout))
        reader.start()
        try:
            run.wait(120)
        finally:
            run.kill()
            reader.join(10)
            run.stdout.close()
        ended_at = time.monotonic()
        stderr = run.stderr.read().decode(errors="replace")
        run.stderr.close()
        out = b"".join(line for _, line in lines)
        assert (run.returncode, out) == (0, "".join(f"{i}\n" for i in range(1, 20001)).encode() + b"end\n"), \
            f"{stderr}\n{cluster.logs()}"
        live_at = next(at for at, line in lines if line == b"20000\n")
        assert ended_at - live_at > 2.5, "the output came only when the task ended"

        # The framework's credentials cannot make the master relay output in the agent's name.
        connection = pika.BlockingConnection(pika.URLParameters(urls["framework"]))
        try:
            channel = connection.channel()
            forged = _envelope("master", "TaskOutput", {
                "framework_id": "x", "executor_id": "mesobus-command", "agent_id": agent_id, "task_id": "t",
                "stream": "stdout", "offset": 0, "data": b"forged\n", "eof": False,
            }, sender=f"executor.{agent_id}.x.mesobus-command")
            channel.basic_publish("mesobus", "master", forged, pika.BasicProperties(user_id=names["framework"]))
        finally:
            connection.close()
        deadline = time.monotonic() + 10
        while "refusing TaskOutput" not in master.tail(200_000) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"belongs to principal '{names['agent']}', not '{names['framework']}'" in master.tail(200_000), \
            cluster.logs()
    finally:
        cluster.stop()
