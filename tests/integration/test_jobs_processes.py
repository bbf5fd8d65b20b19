"""`mesobus jobs` on a real multi-process cluster (master, two agents, two jobs processes,
each an OS process on a private vhost), driven with chronos-python: a job every 2 s runs
on the agents, a child after its parent, a failing job counted once after its retries,
run-now; then the leading jobs process is SIGKILLed and the standby takes over with the
same framework id: no run is lost (every due run ran or was counted as skipped) and
none ran twice."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any, Callable

import chronos
import httpx
import pytest

from tests.support.cluster_framework import ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JobsProcess:
    def __init__(self, cluster: ProcessCluster, name: str, framework: str = "jobs-it") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = cluster.mesobus(name, "jobs", "--broker", cluster.url, "--http", f"127.0.0.1:{self.port}",
                                     "--name", framework)
        self.client = chronos.connect(f"127.0.0.1:{self.port}")

    def jobs(self) -> dict[str, dict]:
        return {j["name"]: j for j in self.client.list()}


def wait_for(what: str, check: Callable[[], Any], cluster: ProcessCluster, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, chronos.ChronosAPIError, OSError, KeyError) as err:
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{cluster.logs()}")


def job(name: str, **fields: Any) -> dict:
    return {"name": name, "command": f"echo {name}", "owner": "", "disabled": False, "mem": 16, **fields}


@pytest.fixture(scope="module")
def cluster(broker_url: str, tmp_path_factory):
    with private_vhost("mesobus-jobs") as url:
        c = ProcessCluster(url, tmp_path_factory.mktemp("jobs"), ping_interval=0.5, max_missed_pings=4)
        try:
            c.start_master()
            for host in ("h1", "h2"):
                c.start_agent(host, "cpus:4;mem:4096;disk:4096")
            c.wait_ready()
            yield c
        finally:
            c.stop()


def test_jobs_run_on_agents_and_a_successor_neither_loses_nor_repeats_a_run(cluster: ProcessCluster,
                                                                             tmp_path: Path) -> None:
    first = JobsProcess(cluster, "jobs-a")
    cluster.wait_log(first.proc, "API on", 90)
    second = JobsProcess(cluster, "jobs-b")
    cluster.wait_log(second.proc, "standing by", 90)
    answer = httpx.get(second.url + "/v1/scheduler/jobs", timeout=30, follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"].startswith(first.url)

    ran = tmp_path / "ran"
    client = first.client
    client.add(job("tick", command=f"echo $MESOBUS_JOB_DUE >> {ran}", schedule="R//PT2S", epsilon="PT30S"))
    client.add(job("child", parents=["tick"]))
    client.add(job("broken", command="exit 3", schedule="R1//PT1H", retries=1))
    client.add(job("manual", schedule="R0//PT1H"))
    wait_for("tick twice and its child", lambda: first.jobs()["tick"]["successCount"] >= 2
             and first.jobs()["child"]["successCount"] >= 1, cluster)
    broken = wait_for("broken counted", lambda: first.jobs()["broken"] if first.jobs()["broken"]["errorCount"] else None,
                      cluster)
    assert (broken["errorCount"], broken["successCount"]) == (1, 0)
    client.run("manual")
    wait_for("manual ran", lambda: first.jobs()["manual"]["successCount"] == 1, cluster)
    before = first.jobs()["tick"]["successCount"]

    cluster.kill(first.proc)  # SIGKILL: no goodbye, its tasks keep running
    cluster.wait_log(second.proc, "API on", 120)
    wait_for("tick runs again under the successor",
             lambda: second.jobs()["tick"]["successCount"] >= before + 3, cluster, timeout=120)
    # Stop scheduling, let the last runs end, then compare what ran with what was counted.
    stopped = dict(second.jobs()["tick"], disabled=True)
    second.client.update({k: v for k, v in stopped.items() if k != "epsilon" or v})
    time.sleep(3)
    dues = [int(line) for line in ran.read_text().split()]
    assert len(dues) == len(set(dues)), f"a run ran twice: {sorted(dues)}"
    tick = second.jobs()["tick"]
    assert tick["successCount"] == len(dues) and tick["errorCount"] == 0
    skipped = httpx.get(second.url + "/metrics", timeout=30).json()["counters"]["jobs.tick.skipped"]["count"]
    span = (max(dues) - min(dues)) // 2000 + 1
    assert len(dues) + skipped >= span, f"runs lost: {span} due, {len(dues)} ran, {skipped} skipped"
    assert second.jobs()["broken"]["errorCount"] == 1  # counts came across
