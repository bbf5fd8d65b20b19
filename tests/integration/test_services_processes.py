"""`mesobus services` on a real multi-process cluster (master, three agents, the services
process, each an OS process on a private vhost), driven through Marathon's API with the
marathon-python client: create, scale, constraints, a waiting app's reason, restart and
rolling upgrade holding the health floor, failing health checks, a killed agent, the
event stream, and a SIGKILLed services process whose successor adopts every task.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import marathon
import pytest
from marathon.models import MarathonApp

from tests.support.cluster_framework import ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker

# marathon-python still uses collections.Iterable (gone since Python 3.10) to encode constraints
collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

# one thread: tasks run under a process limit that a thread per request would hit
SERVER = ("exec python3 -c 'import http.server as h, os; h.HTTPServer((\"127.0.0.1\", int(os.environ[\"PORT0\"])), "
          "h.SimpleHTTPRequestHandler).serve_forever()'")
HOSTS = {"h1": "rack:r1", "h2": "rack:r2", "h3": "rack:r3"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Services:
    def __init__(self, cluster: ProcessCluster, name: str = "services", framework: str = "services") -> None:
        self.cluster = cluster
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = cluster.mesobus(name, "services", "--broker", cluster.url, "--http", f"127.0.0.1:{self.port}",
                                     "--name", framework)
        self.client = marathon.MarathonClient(self.url)

    def wait_leading(self, timeout: float = 60) -> None:
        self.cluster.wait_log(self.proc, "API on", timeout)

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=30).json()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, cluster: ProcessCluster | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, marathon.exceptions.MarathonError) as err:
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{cluster.logs() if cluster else ''}")


@pytest.fixture(scope="module")
def cluster(broker_url: str, tmp_path_factory):
    with private_vhost("mesobus-services") as url:
        c = ProcessCluster(url, tmp_path_factory.mktemp("services"), ping_interval=0.5, max_missed_pings=4)
        try:
            c.start_master()
            for host, attributes in HOSTS.items():
                c.start_agent(host, "cpus:4;mem:4096;disk:4096;ports:[31000-31100]", "--attributes", attributes)
            c.wait_ready()
            yield c
        finally:
            c.stop()


@pytest.fixture(scope="module")
def services(cluster: ProcessCluster):
    s = Services(cluster)
    s.wait_leading()
    yield s


def running(services: Services, app_id: str, n: int) -> Callable[[], Any]:
    def check() -> Any:
        app = services.client.get_app(app_id, embed_tasks=True)
        ok = app.tasks_running == n and len(app.tasks) == n and not app.deployments
        return app if ok else None
    return check


def test_create_scale_and_constraints_with_a_waiting_apps_reason(services: Services, cluster: ProcessCluster) -> None:
    client = services.client
    app = client.create_app("/team/web", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=2,
                                                      constraints=[["hostname", "UNIQUE"]]))
    assert app.id == "/team/web" and app.deployments
    got = wait_for("2 instances", running(services, "/team/web", 2), cluster=cluster)
    assert len({t.host for t in got.tasks}) == 2
    client.scale_app("/team/web", instances=3)
    got = wait_for("3 instances", running(services, "/team/web", 3), cluster=cluster)
    assert {t.host for t in got.tasks} == set(HOSTS)
    client.scale_app("/team/web", instances=4)  # a fourth cannot be placed: UNIQUE on three hosts

    def waiting() -> Any:
        queue = services.get("/v2/queue?embed=lastUnusedOffers")["queue"]
        entry = next((q for q in queue if q["app"]["id"] == "/team/web"), None)
        return entry if entry and entry["lastUnusedOffers"] else None
    entry = wait_for("a queue entry with reasons", waiting, cluster=cluster)
    assert entry["count"] == 1
    assert "UnfulfilledConstraint(hostname:UNIQUE)" in entry["lastUnusedOffers"][-1]["reason"]
    client.scale_app("/team/web", instances=1, force=True)
    wait_for("1 instance", running(services, "/team/web", 1), cluster=cluster)
    # LIKE on an attribute
    client.create_app("/team/r2", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=2,
                                               constraints=[["rack", "LIKE", "r2"]]))
    got = wait_for("2 instances on r2", running(services, "/team/r2", 2), cluster=cluster)
    assert {t.host for t in got.tasks} == {"h2"}
    client.delete_app("/team/r2", force=True)
    client.delete_app("/team/web", force=True)
    wait_for("apps removed", lambda: not services.get("/v2/apps")["apps"], cluster=cluster)


def test_rolling_restart_holds_the_health_floor(services: Services, cluster: ProcessCluster) -> None:
    spec = {"id": "/roll", "cmd": SERVER, "cpus": 0.1, "mem": 32,
            "instances": 4, "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0},
            "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "delaySeconds": 0,
                              "intervalSeconds": 1, "timeoutSeconds": 2, "gracePeriodSeconds": 30,
                              "maxConsecutiveFailures": 3}]}
    created = httpx.post(services.url + "/v2/apps", json=spec, timeout=30)
    assert created.status_code == 201 and created.headers["location"] == "/v2/apps/roll"

    def healthy() -> int:
        app = services.get("/v2/apps/roll")["app"]
        return app["tasksHealthy"] if not app["deployments"] else 0
    wait_for("4 healthy", lambda: healthy() == 4, timeout=90, cluster=cluster)
    before = {t.id for t in services.client.list_tasks("/roll")}
    lowest = [4]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            app = services.get("/v2/apps/roll")["app"]
            alive = [t for t in app["tasks"] if t["state"] == "TASK_RUNNING"
                     and any(r.get("alive") for r in t.get("healthCheckResults", []))]
            lowest[0] = min(lowest[0], len(alive))
            time.sleep(0.1)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        answer = services.client.update_app("/roll", MarathonApp(env={"GENERATION": "2"}))
        assert answer["deploymentId"]
        wait_for("the upgrade", lambda: not services.get("/v2/deployments") and healthy() == 4, timeout=120,
                 cluster=cluster)
    finally:
        stop.set()
        watcher.join(5)
    after = {t.id for t in services.client.list_tasks("/roll")}
    assert not before & after  # every task replaced
    assert lowest[0] >= 2, f"healthy tasks dropped to {lowest[0]} (floor 2)"
    services.client.delete_app("/roll", force=True)


def test_a_failing_health_check_gets_the_task_replaced(services: Services, cluster: ProcessCluster) -> None:
    spec = {"id": "/sick", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
            "healthChecks": [{"protocol": "COMMAND", "command": {"value": "exit 1"}, "delaySeconds": 0,
                              "intervalSeconds": 0.5, "gracePeriodSeconds": 0, "maxConsecutiveFailures": 2}]}
    assert httpx.post(services.url + "/v2/apps", json=spec, timeout=30).status_code == 201
    first = wait_for("a task", lambda: services.client.list_tasks("/sick"), cluster=cluster)[0].id

    def replaced() -> Any:
        app = services.get("/v2/apps/sick")["app"]
        ids = {t["id"] for t in app["tasks"]}
        return app if ids and first not in ids and app.get("lastTaskFailure") else None
    app = wait_for("a replacement", replaced, cluster=cluster)
    assert "unhealthy" in app["lastTaskFailure"]["message"]
    services.client.delete_app("/sick", force=True)


def test_the_event_stream_tells_a_deployment(services: Services, cluster: ProcessCluster) -> None:
    seen: list[dict] = []
    ready = threading.Event()

    def read() -> None:
        with httpx.stream("GET", services.url + "/v2/events", timeout=60,
                          headers={"Accept": "text/event-stream"}) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    ready.set()
                    if any(e["eventType"] == "deployment_success" for e in seen):
                        return
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(20)
    services.client.create_app("/evented", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16))
    reader.join(60)
    kinds = [e["eventType"] for e in seen]
    for kind in ("event_stream_attached", "api_post_event", "deployment_info", "status_update_event",
                 "instance_changed_event", "deployment_success"):
        assert kind in kinds, kinds
    services.client.delete_app("/evented", force=True)


def test_a_task_whose_agent_comes_back_is_kept_and_its_replacement_killed(services: Services,
                                                                           cluster: ProcessCluster) -> None:
    services.client.create_app("/partitioned", MarathonApp(
        cmd="sleep 600", cpus=0.1, mem=16, instances=1, constraints=[["hostname", "UNLIKE", "h1"]],
        unreachable_strategy={"inactiveAfterSeconds": 1, "expungeAfterSeconds": 600}))
    [task] = wait_for("1 instance", running(services, "/partitioned", 1), cluster=cluster).tasks
    agent = cluster.agents[task.host]
    os.kill(agent.pid, signal.SIGSTOP)  # a partition: the agent answers no ping, its task runs on
    try:
        def replaced() -> Any:
            tasks = {t.id: t.state for t in services.client.list_tasks("/partitioned")}
            return tasks.get(task.id) == "TASK_UNREACHABLE" and "TASK_RUNNING" in tasks.values()
        wait_for("a replacement beside the unreachable task", replaced, timeout=60, cluster=cluster)
    finally:
        os.kill(agent.pid, signal.SIGCONT)

    def back() -> Any:  # found RUNNING by reconciliation; the spare goes (killSelection YOUNGEST_FIRST)
        tasks = services.client.list_tasks("/partitioned")
        return [(t.id, t.state) for t in tasks] == [(task.id, "TASK_RUNNING")]
    wait_for("the original task kept, alone", back, timeout=90, cluster=cluster)
    services.client.delete_app("/partitioned", force=True)


def test_a_killed_agents_tasks_are_replaced_elsewhere(services: Services, cluster: ProcessCluster) -> None:
    # unreachable after the master's 4 missed pings; replaced 2 s later (unreachableStrategy)
    services.client.create_app("/moving", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=2,
                                                       constraints=[["hostname", "UNIQUE"],
                                                                    ["hostname", "UNLIKE", "h1"]],
                                                       unreachable_strategy={"inactiveAfterSeconds": 2,
                                                                             "expungeAfterSeconds": 600}))
    got = wait_for("2 instances", running(services, "/moving", 2), cluster=cluster)
    victim = sorted(t.host for t in got.tasks)[0]
    services.client.update_app("/moving", MarathonApp(constraints=[["hostname", "UNIQUE"]]), force=True)
    wait_for("restarted", running(services, "/moving", 2), cluster=cluster)
    hosts = {t.host for t in services.client.list_tasks("/moving")}
    victim = sorted(hosts)[0]
    cluster.kill(cluster.agents[victim])

    def moved() -> Any:
        tasks = services.client.list_tasks("/moving")
        live = [t for t in tasks if t.state == "TASK_RUNNING"]
        away = [t for t in tasks if t.state == "TASK_UNREACHABLE"]
        return len(live) == 2 and victim not in {t.host for t in live} and [t.host for t in away] == [victim]
    # the unreachable task stays listed (until expungeAfterSeconds) beside its replacement
    wait_for(f"the tasks of {victim} to move", moved, timeout=90, cluster=cluster)
    services.client.delete_app("/moving", force=True)


def test_a_sigkilled_services_process_is_succeeded_and_keeps_every_task(cluster: ProcessCluster) -> None:
    first = Services(cluster, name="services-a", framework="kept")
    first.wait_leading()
    standby = Services(cluster, name="services-b", framework="kept")
    cluster.wait_log(standby.proc, "standing by", 60)
    # the standby forwards every call to the leader: a client pointed at it works unchanged
    answer = httpx.get(standby.url + "/v2/apps", timeout=30, follow_redirects=False)
    assert answer.status_code == 200 and answer.json() == {"apps": []}
    assert httpx.get(standby.url + "/v2/leader", timeout=30).json() == {"leader": first.url.removeprefix("http://")}
    with httpx.stream("GET", standby.url + "/v2/events", timeout=30) as events:
        created = standby.client.create_app("/kept", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=3))
        assert created.id == "/kept" and standby.client.get_app("/kept").instances == 3
        kinds = []
        for line in events.iter_lines():  # the leader's event stream, through the standby
            if line.startswith("event: "):
                kinds.append(line.removeprefix("event: "))
            if "api_post_event" in kinds:
                break
        assert kinds[0] == "event_stream_attached"
    tasks = wait_for("3 instances", running(standby, "/kept", 3), cluster=cluster).tasks
    ids = {t.id for t in tasks}
    cluster.kill(first.proc)
    standby.wait_leading(90)
    got = wait_for("the same 3 tasks", running(standby, "/kept", 3), timeout=60, cluster=cluster)
    assert {t.id for t in got.tasks} == ids
    time.sleep(3)  # and they stay: none is killed or replaced after reconciliation
    assert {t.id for t in standby.client.list_tasks("/kept")} == ids
    standby.client.delete_app("/kept", force=True)
