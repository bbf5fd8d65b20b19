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
    # (listed as waiting at once; its unused offers come with the next offer round)
    queue = until(lambda: [q for q in c.list_queue(embed_last_unused_offers=True) if q.last_unused_offers])
    assert queue[0].app.id == "/c/app"
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


# one thread: the embedded agents limit processes; serves the directory the test writes into
SERVE_DIR = ("cd {dir} && exec python3 -c 'import http.server as h, os; h.HTTPServer(("
             "\"127.0.0.1\", int(os.environ[\"PORT0\"])), h.SimpleHTTPRequestHandler).serve_forever()'")


def test_a_deployment_waits_for_readiness_and_shows_the_results(api: str, tmp_path) -> None:
    c = marathon.MarathonClient(api)
    tmp_path.chmod(0o755)
    httpx.post(api + "/v2/apps", json={
        "id": "/r/web", "cmd": SERVE_DIR.format(dir=tmp_path), "cpus": 0.1, "mem": 64,
        "portDefinitions": [{"port": 0, "name": "http"}],
        "readinessChecks": [{"portName": "http", "path": "/ready", "intervalSeconds": 1, "timeoutSeconds": 0.5,
                             "preserveLastResponse": True}]}, timeout=30).raise_for_status()
    def answered() -> list:
        return [r for d in c.list_deployments() for a in d.current_actions for r in a.readiness_check_results
                if r.get("lastResponse")]
    [result] = until(answered)
    assert result["ready"] is False and result["lastResponse"]["status"] == 404  # running, not ready yet
    assert c.list_deployments()  # and so deploying still
    (tmp_path / "ready").write_text("now")  # /ready answers 200 from now on
    until(lambda: not c.list_deployments(), 30)
    app = httpx.get(api + "/v2/apps/r/web?embed=app.readiness", timeout=30).json()["app"]
    assert [r["ready"] for r in app["readinessCheckResults"]] == [True]
    c.get_app("/r/web", embed_readiness=True)  # the client's strict models take it
    dependent = httpx.post(api + "/v2/groups", json={"id": "/cyc", "apps": [
        {"id": "a", "cmd": "x", "dependencies": ["b"]}, {"id": "b", "cmd": "x", "dependencies": ["a"]}]}, timeout=30)
    assert dependent.status_code == 422 and dependent.json()["message"] == "Object is not valid"
    c.delete_app("/r/web", force=True)
