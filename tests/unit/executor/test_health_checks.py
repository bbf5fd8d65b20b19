"""Health checks next to the task: each protocol probes for real, and the checker reports
changes only, not counting failures of a task still in its grace period."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from actors.executor.health import HealthChecks, probe
from messages import Resources, TaskInfo


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _server() -> HTTPServer:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_each_protocol_probes_the_task(tmp_path) -> None:
    server = _server()
    env = {"PORT0": str(server.server_port)}
    try:
        assert probe({"protocol": "HTTP", "path": "/ok"}, env, tmp_path)[0]
        healthy, why = probe({"protocol": "MESOS_HTTP", "path": "/bad"}, env, tmp_path)
        assert not healthy and "503" in why
        assert probe({"protocol": "TCP", "portIndex": 0}, env, tmp_path)[0]
        assert probe({"protocol": "COMMAND", "command": {"value": "test -d ."}}, env, tmp_path)[0]
        assert not probe({"protocol": "COMMAND", "command": {"value": "exit 3"}}, env, tmp_path)[0]
    finally:
        server.shutdown()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    healthy, why = probe({"protocol": "TCP", "port": closed, "timeoutSeconds": 1}, {}, tmp_path)
    assert not healthy and "TCP connect" in why
    assert probe({"protocol": "TCP", "portIndex": 3}, env, tmp_path) == (False, "no port to check (portIndex names no port of the task)")


def test_the_checker_reports_changes_and_stops(tmp_path) -> None:
    sent: list[dict] = []
    checks = HealthChecks(lambda data: sent.append(json.loads(data)["healthCheckResult"]))
    marker = tmp_path / "healthy"
    check = {"protocol": "COMMAND", "command": {"value": f"test -e {marker}"}, "delaySeconds": 0,
             "intervalSeconds": 0.1, "gracePeriodSeconds": 0, "timeoutSeconds": 2}
    task = TaskInfo("t1", "t1", "a1", Resources(), data=json.dumps({"healthChecks": [check]}).encode())
    checks.start(task, tmp_path, {})
    deadline = time.time() + 10
    while len(sent) < 2 and time.time() < deadline:  # failures 1, 2, ...
        time.sleep(0.05)
    marker.touch()
    while not (sent and sent[-1]["alive"]) and time.time() < deadline:
        time.sleep(0.05)
    checks.stop("t1")
    assert sent[0]["alive"] is False and sent[0]["consecutiveFailures"] == 1
    assert sent[-1]["alive"] is True and sent[-1]["firstSuccess"]
    count = len(sent)
    time.sleep(0.3)
    assert len(sent) == count  # stopped (and no news while healthy anyway)
