"""The operator's HTTP API and CLI on a cluster of processes (a private vhost): Mesos'
shapes field by field, sandbox files read through the broker, a standby that redirects
to the leader, and `mesobus ps` / `cat` / `tail` / `weights` against it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(what, timeout: float = 60.0, why: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = what()
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            got = None
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {why() if callable(why) else why}")


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actors.cli.main", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def cluster(broker_url: str, tmp_path_factory):
    with private_vhost("mesobus-http") as url:
        c = ProcessCluster(url, tmp_path_factory.mktemp("http-cluster"))
        c.leader_port, c.standby_port = _free_port(), _free_port()
        try:
            c.start_master("--hostname", "127.0.0.1", "--http", f"127.0.0.1:{c.leader_port}")
            c.start_agent("h1")
            c.start_agent("h2")
            c.wait_ready()
            c.standby = c.start_master("--hostname", "127.0.0.1", "--http", f"127.0.0.1:{c.standby_port}",
                                       name="standby")
            c.wait_log(c.standby, "standing by")
            c.task = c.mesobus("run", "run", "--broker", url, "--name", "hello",
                               "--", "sh", "-c", "echo hello-from-a-sandbox; i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done")
            c.url = f"http://127.0.0.1:{c.leader_port}"
            _until(lambda: httpx.get(f"{c.url}/master/tasks").json()["tasks"][0]["state"] == "TASK_RUNNING",
                   why=lambda: f"the task runs\n{c.logs()}")
            yield c
        finally:
            c.stop()


def test_state_fields_match_mesos(cluster):
    state = httpx.get(f"{cluster.url}/master/state").json()
    assert state["leader"] == state["pid"] == f"master@127.0.0.1:{cluster.leader_port}"
    assert state["leader_info"]["port"] == cluster.leader_port and state["activated_slaves"] == 2
    assert sorted(s["hostname"] for s in state["slaves"]) == ["h1", "h2"]
    for slave in state["slaves"]:
        assert isinstance(slave["id"], str) and isinstance(slave["registered_time"], float)
        assert {k: type(v) for k, v in slave["resources"].items()} == {
            "cpus": float, "mem": float, "disk": float, "gpus": float, "ports": str}
        assert slave["active"] is True and isinstance(slave["attributes"], dict)
    [framework] = state["frameworks"]
    assert framework["name"] == "hello" and framework["active"] is True and framework["TASK_RUNNING"] == 1
    [task] = framework["tasks"]
    assert task["framework_id"] == framework["id"] and task["slave_id"] in {s["id"] for s in state["slaves"]}
    assert task["resources"]["cpus"] == 0.1 and task["resources"]["mem"] == 32.0
    assert [s["state"] for s in task["statuses"]][-1] == "TASK_RUNNING"
    assert all(isinstance(s["timestamp"], float) for s in task["statuses"])
    slaves = httpx.get(f"{cluster.url}/master/slaves").json()
    assert set(slaves) == {"slaves", "recovered_slaves"} and len(slaves["slaves"]) == 2
    frameworks = httpx.get(f"{cluster.url}/master/frameworks").json()
    assert [f["id"] for f in frameworks["frameworks"]] == [framework["id"]]


def test_metrics_parse_as_prometheus(cluster):
    snapshot = httpx.get(f"{cluster.url}/metrics/snapshot").json()
    assert snapshot["master/tasks_running"] == 1.0 and snapshot["master/slaves_active"] == 2.0
    assert 0 < snapshot["master/cpus_percent"] <= 1
    families = {f.name: f.samples[0].value for f in text_string_to_metric_families(httpx.get(f"{cluster.url}/metrics").text)}
    assert families["mesobus_master_tasks_running"] == 1.0 and families["mesobus_master_elected"] == 1.0


def test_a_standby_redirects_to_the_leader(cluster):
    standby = f"http://127.0.0.1:{cluster.standby_port}"
    moved = _until(lambda: (r := httpx.get(f"{standby}/master/state")).status_code == 307 and r, why="a redirect")
    assert moved.headers["location"] == f"//127.0.0.1:{cluster.leader_port}/master/state"
    redirect = httpx.get(f"{standby}/master/redirect")
    assert redirect.status_code == 307 and redirect.headers["location"] == f"//127.0.0.1:{cluster.leader_port}"
    assert httpx.get(f"{standby}/health").status_code == 200
    assert httpx.get(f"{standby}/metrics/snapshot").json()["master/elected"] == 0.0
    followed = _cli("ps", "--master", standby)
    assert followed.returncode == 0 and "hello" in followed.stdout and "TASK_RUNNING" in followed.stdout


def test_sandbox_files_through_the_broker_and_confined(cluster):
    task = httpx.get(f"{cluster.url}/master/tasks").json()["tasks"][0]
    box = f"/agents/{task['slave_id']}/frameworks/{task['framework_id']}/executors/mesobus-command/runs/latest/tasks/{task['id']}"
    listing = httpx.get(f"{cluster.url}/files/browse", params={"path": box}).json()
    assert {"stdout", "stderr"} <= {e["path"].rpartition("/")[2] for e in listing}
    first = httpx.get(f"{cluster.url}/files/read", params={"path": f"{box}/stdout", "offset": 0, "length": 21}).json()
    assert first == {"offset": 0, "data": "hello-from-a-sandbox\n"}
    for bad in (f"{box}/../../../../../../../etc/passwd", f"/agents/{task['slave_id']}/../etc/passwd",
                f"/agents/{task['slave_id']}/frameworks/../../etc/hostname"):
        refused = httpx.get(f"{cluster.url}/files/read", params={"path": bad, "offset": 0})
        assert refused.status_code == 400, (bad, refused.text)


def test_cli_ps_cat_tail_and_weights(cluster):
    ps = _cli("ps", "--master", cluster.url)
    assert ps.returncode == 0, ps.stderr
    header, row = ps.stdout.splitlines()[:2]
    assert header.split() == ["FRAMEWORK", "TASK", "STATE", "HOST", "CPUS", "MEM"]
    assert row.split()[0] == "hello" and row.split()[2:] in (["TASK_RUNNING", "h1", "0.1", "32"],
                                                             ["TASK_RUNNING", "h2", "0.1", "32"])
    task_id = row.split()[1]
    cat = _cli("cat", "--master", cluster.url, task_id)
    assert cat.returncode == 0 and cat.stdout.startswith("hello-from-a-sandbox\nline 1\n")
    tail = _cli("tail", "--master", cluster.url, "-n", "2", task_id)
    lines = tail.stdout.splitlines()
    assert len(lines) == 2 and all(l.startswith("line ") for l in lines)
    assert _cli("weights", "--master", cluster.url, "dev=2").stdout.split() == ["ROLE", "WEIGHT", "dev", "2"]
    state = json.loads(_cli("state", "--master", cluster.url).stdout)
    assert state["activated_slaves"] == 2
    down = _cli("ps", "--master", f"http://127.0.0.1:{_free_port()}")
    assert down.returncode == 1 and down.stderr.count("\n") == 1 and "cannot reach the master" in down.stderr
