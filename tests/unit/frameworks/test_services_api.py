"""Marathon's API as marathon-python sees it, on an embedded cluster (memory transport,
real `sleep` processes): every object parses with the client's strict models, and the
error bodies and status codes are Marathon's."""

from __future__ import annotations

import collections
import collections.abc
import time

import httpx
import marathon
import pytest
from marathon.models import MarathonApp

from actors.cluster import LocalCluster
from actors.frameworks.hosting import MemoryStore, SwitchApp, start_hosted
from actors.frameworks.services import SPEC
from actors.http import HttpServer

collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]  # marathon-python on 3.10+


@pytest.fixture(scope="module")
def api():
    with LocalCluster(agents=2, agent_resources="cpus:2;mem:2048;disk:100;ports:[31000-31050]") as cluster:
        switch = SwitchApp(None)
        server = HttpServer(switch, "127.0.0.1", 0).start()
        running = start_hosted(SPEC, target=cluster, store=MemoryStore(), server=server, switch=switch)
        try:
            yield server.url
        finally:
            running.handle.stop()
            server.stop()


def until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_the_client_reads_every_object(api: str) -> None:
    c = marathon.MarathonClient(api)
    c.create_app("/c/app", MarathonApp(cmd="sleep 600", cpus=0.1, mem=16, instances=2, labels={"tier": "x"}))
    until(lambda: c.get_app("/c/app").tasks_running == 2 and not c.list_deployments())
    assert c.get_info().version and c.get_leader()
    assert [a.id for a in c.list_apps(label="tier==x", embed_counts=True, embed_task_stats=True)] == ["/c/app"]
    assert c.list_apps(cmd="nothing-like-it") == []
    group = c.get_group("/c")
    assert [a.id for a in group.apps] == ["/c/app"]
    versions = c.list_versions("/c/app")
    assert c.get_version("/c/app", versions[0]).cmd == "sleep 600"
    tasks = c.list_tasks("/c/app")
    assert all(t.started_at and t.slave_id and t.ports for t in tasks)
    killed = c.kill_given_tasks([tasks[0].id], scale=True)
    assert killed
    until(lambda: c.get_app("/c/app").instances == 1 and not c.list_deployments())
    c.scale_app("/c/app", instances=100)  # more than the cluster holds: it waits
    queue = until(lambda: c.list_queue(embed_last_unused_offers=True))
    assert queue[0].app.id == "/c/app" and queue[0].last_unused_offers
    deployment = c.list_deployments()[0]
    assert deployment.affected_apps == ["/c/app"] and deployment.current_actions[0].action == "ScaleApplication"
    rollback = c.delete_deployment(deployment.id)
    assert rollback["deploymentId"]
    until(lambda: c.get_app("/c/app").instances == 1 and not c.list_deployments(), 60)
    c.reset_delay("/c/app")
    back = c.rollback_app("/c/app", versions[-1], force=True)
    assert back["deploymentId"]
    assert c.get_metrics()["gauges"]["marathon.apps.active.gauge"]["value"] >= 1
    c.delete_app("/c/app", force=True)


def test_errors_have_marathons_codes_and_bodies(api: str) -> None:
    invalid = httpx.post(api + "/v2/apps", json={"id": "/bad", "cmd": "x", "cpus": -1}, timeout=30)
    assert invalid.status_code == 422
    assert invalid.json() == {"message": "Object is not valid", "details": [{"path": "/cpus", "errors": ["must be >= 0"]}]}
    assert httpx.get(api + "/v2/apps/nope", timeout=30).status_code == 404
    assert httpx.post(api + "/v2/apps", content=b"{nope", timeout=30).status_code == 400
    first = httpx.post(api + "/v2/apps", json={"id": "/e/x", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
                                               "instances": 1000}, timeout=30)
    assert first.status_code == 201 and first.headers["location"] == "/v2/apps/e/x"
    assert httpx.post(api + "/v2/apps", json={"id": "/e/x", "cmd": "x"}, timeout=30).status_code == 409
    conflict = httpx.put(api + "/v2/apps/e/x", json={"instances": 1}, timeout=30)
    assert conflict.status_code == 409 and conflict.json()["deployments"][0]["id"]
    forced = httpx.put(api + "/v2/apps//e//x?force=true", json={"instances": 1}, timeout=30)
    assert forced.status_code == 200 and forced.json()["deploymentId"]
    assert httpx.delete(api + "/v2/apps/e/x?force=True", timeout=30).status_code == 200
