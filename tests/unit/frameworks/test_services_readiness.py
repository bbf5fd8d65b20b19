"""Readiness checks: Marathon's fields and defaults, the named port handed to the executor
as an index, a deployment that waits for new tasks to be ready before killing old ones,
readinessCheckResults as Marathon shows them, and the executor's check against a real
HTTP server."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from actors.executor.readiness import readiness_loop
from actors.frameworks.services import shapes
from actors.frameworks.services.appdef import AppInvalid, normalize
from tests.unit.frameworks.services_world import World

APP = {"id": "/web", "cmd": "serve", "instances": 1, "cpus": 0.1, "mem": 8,
       "portDefinitions": [{"port": 0, "name": "admin"}, {"port": 0, "name": "http"}],
       "readinessChecks": [{"portName": "http", "path": "/ready", "intervalSeconds": 5, "timeoutSeconds": 2,
                            "preserveLastResponse": True}]}


def test_marathons_defaults_and_checks() -> None:
    [check] = normalize(dict(APP, readinessChecks=[{"portName": "http"}]))["readinessChecks"]
    assert check == {"name": "readinessCheck", "protocol": "HTTP", "path": "/", "portName": "http",
                     "intervalSeconds": 30, "timeoutSeconds": 10, "httpStatusCodesForReady": [200],
                     "preserveLastResponse": False}
    for bad, field in (({"portName": "nope"}, "portName"),
                       ({"portName": "http", "timeoutSeconds": 30, "intervalSeconds": 30}, "timeoutSeconds"),
                       ({"portName": "http", "protocol": "TCP"}, "protocol"),
                       ({"portName": "http", "httpStatusCodesForReady": []}, "httpStatusCodesForReady")):
        with pytest.raises(AppInvalid) as err:
            normalize(dict(APP, readinessChecks=[bad]))
        assert err.value.details[0]["path"] == f"/readinessChecks(0)/{field}"


def test_the_executor_gets_the_named_port_as_an_index() -> None:
    w = World()
    w.s.put_app(APP)
    [task] = w.launch(w.offer())
    [check] = json.loads(task.data)["readinessChecks"]
    assert check["portIndex"] == 1 and check["path"] == "/ready"


def test_a_restart_kills_the_old_task_only_once_the_new_one_is_ready() -> None:
    w = World()
    w.s.put_app(APP)
    [old] = w.launch(w.offer())
    w.status(old.task_id, "TASK_RUNNING")
    w.s.on_readiness({"taskId": old.task_id, "ready": True})
    w.s.wake()
    assert not w.s.deployments
    deployment = w.s.restart_app("/web")
    w.clock.advance(1)
    [new] = w.launch(w.offer())
    w.status(new.task_id, "TASK_RUNNING")
    assert w.kills() == []  # running is not ready
    w.s.on_readiness({"taskId": new.task_id, "ready": False, "name": "readinessCheck",
                      "lastResponse": {"status": 503, "contentType": "text/plain", "body": "warming up"}})
    w.s.wake()
    assert w.kills() == [] and deployment.id in w.s.deployments
    [action] = shapes.deployment_json(deployment, w.s.readiness_results)["currentActions"]
    assert action["readinessCheckResults"] == [{"name": "readinessCheck", "taskId": new.task_id, "ready": False,
                                                "lastResponse": {"status": 503, "contentType": "text/plain",
                                                                 "body": "warming up"}}]
    w.s.on_readiness({"taskId": new.task_id, "ready": True})
    w.s.wake()
    assert w.kills() == [old.task_id]
    w.status(old.task_id, "TASK_KILLED")
    assert deployment.id not in w.s.deployments
    app_json = shapes.app_json(w.s.apps["/web"], [], {shapes.READINESS})
    assert app_json["readinessCheckResults"] == [{"name": "readinessCheck", "taskId": new.task_id, "ready": True}]


def test_the_executor_checks_until_ready_and_reports_each_change() -> None:
    answers = iter([503, 503, 200])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            code = next(answers, 200)
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(f"{code} at {self.path}".encode())

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sent: list[dict] = []
    try:
        check = {"portIndex": 0, "path": "/ready", "intervalSeconds": 0.05, "timeoutSeconds": 1,
                 "httpStatusCodesForReady": [200], "preserveLastResponse": True}
        readiness_loop("t1", check, {"PORT0": str(server.server_address[1])}, threading.Event(),
                       lambda data: sent.append(json.loads(data)["readinessCheckResult"]))
    finally:
        server.shutdown()
    assert [r["ready"] for r in sent] == [False, True]  # the second 503 changed nothing: not sent
    assert sent[-1]["lastResponse"] == {"status": 200, "contentType": "text/plain", "body": "200 at /ready"}


def test_check_paths_must_be_absolute_paths_on_the_tasks_host():
    """"@example.com/" after "127.0.0.1:PORT" would send the executor's check elsewhere."""
    for key, check in (("healthChecks", {"protocol": "HTTP", "path": "@example.com/"}),
                       ("readinessChecks", {"path": "@example.com/", "portName": "http"})):
        with pytest.raises(AppInvalid) as err:
            normalize(dict(APP, **{key: [check]}))
        assert err.value.details[0]["path"] == f"/{key}(0)/path"
        assert "absolute path" in err.value.details[0]["errors"][0]
