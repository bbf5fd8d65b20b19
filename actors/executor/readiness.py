"""Readiness checks run next to the task, in its executor, as its health checks do
(health.py starts them): Marathon's `readinessChecks`, given in `TaskInfo.data` as JSON
`{"readinessChecks": [...]}` with the named port already resolved to `portIndex` by the
framework.

Once the task runs, `GET http(s)://127.0.0.1:$PORT<portIndex><path>` every
`intervalSeconds`, each within `timeoutSeconds`, until the answer's status is one of
`httpStatusCodesForReady`; then the check ends. Each result that differs from the last
(ready or not, status) goes to the framework as a framework message, JSON
`{"readinessCheckResult": {...}}` in Marathon's shape, the answer (its body at most
64 KiB) in `lastResponse` when `preserveLastResponse` and there was one (not when the
task did not accept the connection yet).

>>> parse_readiness(b'{"readinessChecks": [{"portIndex": 0, "path": "/ready"}]}')[0]["path"]
'/ready'
>>> parse_readiness(b'{"healthChecks": []}')
[]
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import urllib.error
import urllib.request
from typing import Any, Callable

log = logging.getLogger(__name__)

MAX_CHECKS = 1  # as Marathon: one per app
MAX_DATA = 64 * 1024
MAX_BODY = 64 * 1024


def checks_in(data: bytes, key: str, most: int) -> list[dict[str, Any]]:
    """The first `most` check objects under `key` in a task's data (the framework's JSON,
    bounded in size); none when the data is not that."""
    if not data or len(data) > MAX_DATA:
        return []
    try:
        decoded = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: '[[[[...' within MAX_DATA
        return []
    checks = decoded.get(key) if isinstance(decoded, dict) else None
    if not isinstance(checks, list):
        return []
    return [c for c in checks[:most] if isinstance(c, dict)]


def local_url(scheme: str, port: int, path: object) -> str | None:
    """The URL of `path` on this host's `port`, or None when `path` (from a framework) is
    not an absolute path: "@other.host/" after "127.0.0.1:PORT" would name another host.

    >>> local_url("http", 8080, "/ready"), local_url("http", 8080, "@example.com/")
    ('http://127.0.0.1:8080/ready', None)
    """
    path = path or "/"
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//") or any(
            c in path for c in "@\\ \t\r\n"):
        return None
    return f"{scheme}://127.0.0.1:{port}{path}"


def parse_readiness(data: bytes) -> list[dict[str, Any]]:
    return checks_in(data, "readinessChecks", MAX_CHECKS)


def _seconds(check: dict, key: str, default: float) -> float:
    value = check.get(key, default)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else default


def attempt(check: dict[str, Any], env: dict[str, str]) -> dict[str, Any] | None:
    """One request: {"status", "contentType", "body"}, or None with no answer."""
    index = check.get("portIndex", 0)
    port = int(env.get(f"PORT{index}", "0") or 0) if isinstance(index, int) else 0
    if not 0 < port < 65536:
        log.warning("readiness check %s: portName names no port of the task", check.get("name"))
        return None
    scheme = "https" if str(check.get("protocol", "HTTP")).upper() == "HTTPS" else "http"
    url = local_url(scheme, port, check.get("path"))
    if url is None:
        log.warning("readiness check %s: its path is not an absolute path", check.get("name"))
        return None
    context = ssl._create_unverified_context() if scheme == "https" else None  # tasks use their own certs
    timeout = _seconds(check, "timeoutSeconds", 10)
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            return {"status": response.status, "contentType": response.headers.get("content-type", ""),
                    "body": response.read(MAX_BODY).decode("utf-8", "replace")}
    except urllib.error.HTTPError as err:
        body = err.read(MAX_BODY).decode("utf-8", "replace") if err.fp else ""
        return {"status": err.code, "contentType": err.headers.get("content-type", ""), "body": body}
    except (OSError, ValueError):
        return None  # not listening yet, or not answering in time


def readiness_loop(task_id: str, check: dict, env: dict[str, str], stop: threading.Event,
                   send: Callable[[bytes], None]) -> None:
    """Check until ready (or `stop`), reporting each change to the framework."""
    interval = _seconds(check, "intervalSeconds", 30)
    codes = check.get("httpStatusCodesForReady") or [200]
    said: tuple | None = None
    while not stop.is_set():
        response = attempt(check, env)
        ready = response is not None and response["status"] in codes
        result: dict[str, Any] = {"name": str(check.get("name") or "readinessCheck"), "taskId": task_id,
                                  "ready": ready}
        if check.get("preserveLastResponse") is True and response is not None:
            result["lastResponse"] = response
        state = (ready, response and response["status"])
        if state != said:
            said = state
            try:
                send(json.dumps({"readinessCheckResult": result}).encode())
            except Exception as err:  # noqa: BLE001  the executor is going away
                log.warning("readiness check of %s: cannot report: %s", task_id, err)
                return
        if ready:
            return
        stop.wait(interval)
