"""Health checks run next to the task, in its executor: Marathon's `healthChecks` (HTTP,
HTTPS, TCP, COMMAND and their MESOS_ forms), given in `TaskInfo.data` as JSON
`{"healthChecks": [...]}` by the framework that launched the task.

Each check of a running task has a thread that checks every `intervalSeconds` (the first
after `delaySeconds`), each attempt bounded by `timeoutSeconds`, against 127.0.0.1 on
the task's port (`portIndex` into its $PORT0.., or `port`). Failures in the first
`gracePeriodSeconds`, before any success, are not counted. Each change (alive or not,
the count of consecutive failures) goes to the framework as a framework message, JSON
`{"healthCheckResult": {...}}` in Marathon's shape; the framework decides to kill.

>>> parse_checks(b'{"healthChecks": [{"protocol": "TCP", "portIndex": 0}]}')[0]["protocol"]
'TCP'
>>> parse_checks(b"not json"), parse_checks(b"")
([], [])
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from actors.executor.readiness import checks_in, local_url, parse_readiness, readiness_loop
from messages import Envelope, ExecutorToFramework, TaskInfo

log = logging.getLogger(__name__)

MAX_CHECKS = 8


def parse_checks(data: bytes) -> list[dict[str, Any]]:
    return checks_in(data, "healthChecks", MAX_CHECKS)


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _number(check: dict, key: str, default: float) -> float:
    value = check.get(key, default)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else default


def probe(check: dict[str, Any], env: dict[str, str], cwd: Path) -> tuple[bool, str]:
    """One attempt: (healthy, why not)."""
    protocol = str(check.get("protocol", "HTTP")).upper().removeprefix("MESOS_")
    timeout = max(0.1, _number(check, "timeoutSeconds", 20))
    if protocol == "COMMAND":
        command = check.get("command") or {}
        line = command.get("value") if isinstance(command, dict) else command
        try:
            done = subprocess.run(str(line), shell=True, cwd=cwd, env=env, timeout=timeout,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False, f"command timed out after {timeout:g}s"
        except OSError as err:
            return False, f"command could not start: {err}"
        return done.returncode == 0, f"command exited with {done.returncode}"
    port = check.get("port")
    if not isinstance(port, int) or isinstance(port, bool):
        index = check.get("portIndex", 0)
        port = int(env.get(f"PORT{index}", "0") or 0) if isinstance(index, int) else 0
    if not 0 < port < 65536:
        return False, "no port to check (portIndex names no port of the task)"
    if protocol == "TCP":
        try:
            socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
            return True, ""
        except OSError as err:
            return False, f"TCP connect to port {port}: {err}"
    scheme = "https" if protocol == "HTTPS" else "http"
    url = local_url(scheme, port, check.get("path"))
    if url is None:
        return False, "the check's path is not an absolute path"
    context = ssl._create_unverified_context() if scheme == "https" else None  # tasks use their own certs
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            code = response.status
    except urllib.error.HTTPError as err:
        code = err.code
    except (OSError, ValueError) as err:
        return False, f"GET {url}: {getattr(err, 'reason', err)}"
    return 200 <= code < 400, f"GET {url}: HTTP {code}"


class HealthChecks:
    """The checks of an executor's tasks. `start(task, sandbox, env)` when it runs,
    `stop(task_id)` when it ends; `send(bytes)` delivers a framework message (any thread)."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self.send = send
        self._stops: dict[str, threading.Event] = {}

    def start(self, task: TaskInfo, sandbox: Path, env: dict[str, str]) -> None:
        """Its health checks, and its readiness checks (readiness.py) until it is ready."""
        checks, readiness = parse_checks(task.data), parse_readiness(task.data)
        if not checks and not readiness:
            return
        stop = threading.Event()
        self._stops[task.task_id] = stop
        for check in checks:
            threading.Thread(target=self._loop, args=(task.task_id, check, sandbox, env, stop),
                             name=f"health-{task.task_id}", daemon=True).start()
        for check in readiness:
            threading.Thread(target=readiness_loop, args=(task.task_id, check, env, stop, self.send),
                             name=f"readiness-{task.task_id}", daemon=True).start()

    def stop(self, task_id: str) -> None:
        stop = self._stops.pop(task_id, None)
        if stop is not None:
            stop.set()

    def stop_all(self) -> None:
        for task_id in list(self._stops):
            self.stop(task_id)

    def _loop(self, task_id: str, check: dict, sandbox: Path, env: dict[str, str], stop: threading.Event) -> None:
        started = time.time()
        grace = _number(check, "gracePeriodSeconds", 300)
        interval = max(0.1, _number(check, "intervalSeconds", 60))
        result: dict[str, Any] = {"taskId": task_id, "instanceId": task_id, "alive": False,
                                  "consecutiveFailures": 0, "firstSuccess": None, "lastSuccess": None,
                                  "lastFailure": None, "lastFailureCause": None}
        said: tuple | None = None
        if stop.wait(_number(check, "delaySeconds", 15)):
            return
        while not stop.is_set():
            healthy, why = probe(check, env, sandbox)
            now = time.time()
            if healthy:
                result.update(alive=True, consecutiveFailures=0, lastSuccess=_iso(now))
                result["firstSuccess"] = result["firstSuccess"] or _iso(now)
            elif result["firstSuccess"] is None and now - started < grace:
                pass  # still starting: not counted
            else:
                result.update(alive=False, consecutiveFailures=result["consecutiveFailures"] + 1,
                              lastFailure=_iso(now), lastFailureCause=why)
            state = (result["alive"], result["consecutiveFailures"])
            if state != said:
                said = state
                try:
                    self.send(json.dumps({"healthCheckResult": result}).encode())
                except Exception as err:  # noqa: BLE001  the executor is going away
                    log.warning("health check of %s: cannot report: %s", task_id, err)
                    return
            stop.wait(interval)


def framework_message_sender(executor: Any) -> Callable[[bytes], None]:
    """Send a framework message from any thread (the transport is thread-safe; the
    actor's own `send` reads handler state)."""

    def send(data: bytes) -> None:
        body = ExecutorToFramework(executor.framework_id, executor.executor_id, executor.agent_id, data)
        executor.transport.publish(Envelope(id=executor.context.ids.new_id(), sender=executor.address,
                                            target=executor.env.agent_address, body=body,
                                            sent_at=executor.transport.clock.now()))

    return send
