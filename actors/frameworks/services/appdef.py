"""App definitions: what a client POSTs or PUTs, checked and completed with Marathon's
defaults. A definition is kept as the camelCase dict Marathon shows (without the
runtime fields: tasks, counts, deployments), so storing and serving it is a copy.

>>> app = normalize({"id": "//team//web", "cmd": "sleep 100", "instances": 2})
>>> app["id"], app["cpus"], app["mem"], app["upgradeStrategy"]
('/team/web', 1.0, 128.0, {'minimumHealthCapacity': 1.0, 'maximumOverCapacity': 1.0})
>>> normalize({"id": "/x", "cpus": -1})
Traceback (most recent call last):
...
actors.frameworks.services.appdef.AppInvalid: Object is not valid: /cpus: must be >= 0; /: one of cmd, args or container is required
"""

from __future__ import annotations

import copy
import math
from typing import Any

from actors.executor.readiness import local_url
from actors.frameworks.services.constraints import constraint_error
from actors.frameworks.services.paths import canonical_id, normalize_id, path_error

HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP")
KILL_SELECTIONS = ("YOUNGEST_FIRST", "OLDEST_FIRST")
MAX_INSTANCES = 100_000
MAX_PORTS = 100
MAX_CONSTRAINTS = 100  # each is checked against every offer

# The fields a client may set, with Marathon's defaults (None: emitted only when set).
DEFAULTS: dict[str, Any] = {
    "cmd": None, "args": None, "user": None, "env": {}, "instances": 1, "cpus": 1.0, "mem": 128.0,
    "disk": 0.0, "gpus": 0, "executor": "", "constraints": [], "uris": [], "fetch": [], "storeUrls": [],
    "backoffSeconds": 1.0, "backoffFactor": 1.15, "maxLaunchDelaySeconds": 3600.0, "container": None,
    "healthChecks": [], "readinessChecks": [], "dependencies": [],
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "labels": {}, "acceptedResourceRoles": None, "ipAddress": None, "residency": None, "secrets": {},
    "taskKillGracePeriodSeconds": None, "killSelection": "YOUNGEST_FIRST",
    "unreachableStrategy": {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600},
    "requirePorts": False, "portDefinitions": None, "ports": None,
}
RUNTIME_FIELDS = ("tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments", "tasks",
                  "lastTaskFailure", "taskStats", "readinessCheckResults", "versionInfo", "version")


class AppInvalid(ValueError):
    """A definition Marathon would answer 422 to; `details` as Marathon's error body."""

    def __init__(self, details: list[dict[str, Any]]) -> None:
        self.details = details
        text = "; ".join(f"{d['path']}: {', '.join(d['errors'])}" for d in details)
        super().__init__(f"Object is not valid: {text}")

    def body(self) -> dict[str, Any]:
        return {"message": "Object is not valid", "details": self.details}


class _Errors:
    def __init__(self) -> None:
        self.by_path: dict[str, list[str]] = {}

    def add(self, path: str, error: str) -> None:
        self.by_path.setdefault(path, []).append(error)

    def raise_if_any(self) -> None:
        if self.by_path:
            raise AppInvalid([{"path": p, "errors": e} for p, e in self.by_path.items()])


def normalize(raw: Any, *, base: str = "/", app_id: str | None = None, previous: dict | None = None) -> dict:
    """A complete, checked definition from a client's JSON. With `previous` (a PUT), the
    fields not given keep their values. Raises AppInvalid."""
    errors = _Errors()
    if not isinstance(raw, dict):
        raise AppInvalid([{"path": "/", "errors": ["expected a JSON object"]}])
    app = copy.deepcopy(previous) if previous else copy.deepcopy(DEFAULTS)
    for key in RUNTIME_FIELDS:
        app.pop(key, None)
    given = {k: v for k, v in raw.items() if k not in RUNTIME_FIELDS}
    raw_id = given.pop("id", None) if app_id is None else app_id
    if previous and "id" in given:
        given.pop("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        errors.add("/id", "is required (a path such as /team/web)")
        app_id = "/"
    else:
        app_id = normalize_id(raw_id, base)
        if why := path_error(app_id):
            errors.add("/id", why)
    both = "ports" in given and "portDefinitions" in given and given["ports"] and given["portDefinitions"]
    if both and given["ports"] != [d.get("port", 0) for d in given["portDefinitions"] if isinstance(d, dict)]:
        errors.add("/", "give ports or portDefinitions, not both")  # (both, when they agree: a GET's output)
    for key, value in given.items():
        if key not in DEFAULTS:
            continue  # Marathon ignores fields it does not know
        app[key] = value
    if "ports" in given and "portDefinitions" not in given:
        app["portDefinitions"] = None if given["ports"] is None else [
            {"port": p, "protocol": "tcp"} for p in (given["ports"] if isinstance(given["ports"], list) else [])]
        if not isinstance(given["ports"], (list, type(None))):
            errors.add("/ports", "must be a list of port numbers")
    app["id"] = app_id
    _check(app, errors)
    errors.raise_if_any()
    return app


def _number(app: dict, key: str, errors: _Errors, *, low: float = 0.0, whole: bool = False,
            high: float = math.inf, above: bool = False) -> None:
    value = app[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors.add(f"/{key}", "must be a number")
        return
    if whole and value != int(value):
        errors.add(f"/{key}", "must be a whole number")
    if (value <= low) if above else (value < low):
        errors.add(f"/{key}", f"must be {'>' if above else '>='} {low:g}")
    elif value > high:
        errors.add(f"/{key}", f"must be <= {high:g}")
    app[key] = int(value) if whole else float(value)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _check(app: dict, errors: _Errors) -> None:
    for key, low, whole, high in (("cpus", 0, False, 1e6), ("mem", 0, False, 1e9), ("disk", 0, False, 1e12),
                                  ("gpus", 0, True, 1e4), ("instances", 0, True, MAX_INSTANCES),
                                  ("backoffSeconds", 0, False, 1e7), ("maxLaunchDelaySeconds", 0, False, 1e8)):
        _number(app, key, errors, low=low, whole=whole, high=high)
    _number(app, "backoffFactor", errors, low=1.0)
    if app["taskKillGracePeriodSeconds"] is not None:
        _number(app, "taskKillGracePeriodSeconds", errors, low=0, above=True, high=1e6)
    cmd, args, container = app["cmd"], app["args"], app["container"]
    if cmd is not None and (not isinstance(cmd, str) or not cmd.strip()):
        errors.add("/cmd", "must be non-empty text")
    if args is not None and (not isinstance(args, list) or not all(isinstance(a, str) for a in args)):
        errors.add("/args", "must be a list of strings")
    if cmd and args:
        errors.add("/", "give cmd or args, not both")
    if not cmd and not args and not container:
        errors.add("/", "one of cmd, args or container is required")
    if container is not None and not isinstance(container, dict):
        errors.add("/container", "must be an object")
    if app["user"] is not None and (not isinstance(app["user"], str) or not app["user"]):
        errors.add("/user", "must be non-empty text")
    for key in ("env", "labels"):
        value = app[key]
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            errors.add(f"/{key}", "must be an object of text values")
    _check_constraints(app, errors)
    _check_ports(app, errors)
    _check_health(app, errors)
    _check_readiness(app, errors)
    _check_strategy(app, errors)
    roles = app["acceptedResourceRoles"]
    if roles is not None and (not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles)):
        errors.add("/acceptedResourceRoles", "must be a non-empty list of roles")
    if app["killSelection"] not in KILL_SELECTIONS:
        errors.add("/killSelection", f"must be one of {', '.join(KILL_SELECTIONS)}")
    require = _flag(app["requirePorts"])
    if require is None:
        errors.add("/requirePorts", "must be true or false")
    else:
        app["requirePorts"] = require
    for key in ("uris", "dependencies", "storeUrls"):
        if not isinstance(app[key], list) or not all(isinstance(u, str) for u in app[key]):
            errors.add(f"/{key}", "must be a list of strings")
    if not isinstance(app["fetch"], list) or not all(isinstance(f, dict) and isinstance(f.get("uri"), str) for f in app["fetch"]):
        errors.add("/fetch", "must be a list of objects with a uri")
    else:
        _check_fetch(app["fetch"], errors)
    if isinstance(app["uris"], list) and "" in app["uris"]:
        errors.add(f"/uris({app['uris'].index('')})", "must not be empty")
    if isinstance(container, dict) and str(container.get("type", "DOCKER")).upper() not in ("DOCKER", "MESOS"):
        errors.add("/container/type", "must be DOCKER or MESOS")
    dependencies = app["dependencies"] if isinstance(app["dependencies"], list) else []
    group = app["id"].rsplit("/", 1)[0] or "/"
    app["dependencies"] = [canonical_id(d, group) for d in dependencies if isinstance(d, str)]
    for i, dependency in enumerate(app["dependencies"]):
        if why := path_error(dependency):
            errors.add(f"/dependencies({i})", why)


def _check_fetch(fetch: list[dict], errors: _Errors) -> None:
    for i, item in enumerate(fetch):
        if not item["uri"]:
            errors.add(f"/fetch({i})/uri", "must not be empty")
        for flag in ("executable", "extract", "cache"):
            if flag in item and not isinstance(item[flag], bool):
                errors.add(f"/fetch({i})/{flag}", "must be true or false")
        dest = item.get("destPath")
        if dest is not None and (not isinstance(dest, str) or dest.startswith("/") or ".." in dest.split("/")):
            errors.add(f"/fetch({i})/destPath", "must be a relative path inside the sandbox")


def _check_constraints(app: dict, errors: _Errors) -> None:
    constraints = app["constraints"]
    if not isinstance(constraints, list) or len(constraints) > MAX_CONSTRAINTS:
        errors.add("/constraints", f"must be a list of at most {MAX_CONSTRAINTS} [field, operator, value]")
        return
    fixed = []
    for i, c in enumerate(constraints):
        why = constraint_error(c)
        if why:
            errors.add(f"/constraints({i})", why)
        else:
            fixed.append([c[0], c[1].upper(), *c[2:]])
    app["constraints"] = fixed if len(fixed) == len(constraints) else constraints


def _check_ports(app: dict, errors: _Errors) -> None:
    definitions = app["portDefinitions"]
    if definitions is None:
        definitions = [{"port": 0, "protocol": "tcp"}]
    if not isinstance(definitions, list) or len(definitions) > MAX_PORTS:
        errors.add("/portDefinitions", f"must be a list of at most {MAX_PORTS} port definitions")
        return
    out = []
    for i, d in enumerate(definitions):
        if not isinstance(d, dict):
            errors.add(f"/portDefinitions({i})", "must be an object")
            continue
        port = d.get("port", 0)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            errors.add(f"/portDefinitions({i})/port", "must be a port number 0-65535")
            continue
        entry = {"port": port, "protocol": d.get("protocol", "tcp"), "labels": d.get("labels") or {}}
        if d.get("name"):
            entry["name"] = d["name"]
        out.append(entry)
    fixed = [d["port"] for d in out if d["port"]]
    if len(set(fixed)) != len(fixed):
        errors.add("/portDefinitions", "ports must be unique")
    app["portDefinitions"] = out
    app["ports"] = [d["port"] for d in out]


def _check_health(app: dict, errors: _Errors) -> None:
    checks = app["healthChecks"]
    if not isinstance(checks, list):
        errors.add("/healthChecks", "must be a list")
        return
    out = []
    for i, h in enumerate(checks):
        where = f"/healthChecks({i})"
        if not isinstance(h, dict):
            errors.add(where, "must be an object")
            continue
        check = {"gracePeriodSeconds": 300, "intervalSeconds": 60, "timeoutSeconds": 20,
                 "maxConsecutiveFailures": 3, "delaySeconds": 15, "protocol": "HTTP", **h}
        protocol = str(check["protocol"]).upper()
        check["protocol"] = protocol
        if protocol not in HEALTH_PROTOCOLS:
            errors.add(f"{where}/protocol", f"must be one of {', '.join(HEALTH_PROTOCOLS)}")
        for key in ("gracePeriodSeconds", "intervalSeconds", "timeoutSeconds", "maxConsecutiveFailures", "delaySeconds"):
            v = check[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                errors.add(f"{where}/{key}", "must be a number >= 0")
        if protocol.endswith("COMMAND"):
            command = check.get("command")
            value = command.get("value") if isinstance(command, dict) else command
            if not isinstance(value, str) or not value:
                errors.add(f"{where}/command", "a COMMAND health check needs command.value")
            check["command"] = {"value": value}
        else:
            if "port" not in check:
                check.setdefault("portIndex", 0)
            index = check.get("portIndex")
            if index is not None and (not isinstance(index, int) or not 0 <= index < max(len(app["portDefinitions"] or [1]), 1)):
                errors.add(f"{where}/portIndex", "must index one of the app's ports")
            if protocol in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
                check.setdefault("path", "/")
                check.setdefault("ignoreHttp1xx", False)
                if local_url("http", 1, check["path"]) is None:
                    errors.add(f"{where}/path", "must be an absolute path on the task's host")
        out.append(check)
    app["healthChecks"] = out


READINESS_DEFAULTS = {"name": "readinessCheck", "protocol": "HTTP", "path": "/", "portName": "http-api",
                      "intervalSeconds": 30, "timeoutSeconds": 10, "httpStatusCodesForReady": [200],
                      "preserveLastResponse": False}


def _check_readiness(app: dict, errors: _Errors) -> None:
    """Marathon's readinessChecks: at most one, HTTP(S) on a named port of the app."""
    checks = app["readinessChecks"]
    if not isinstance(checks, list) or len(checks) > 1:
        errors.add("/readinessChecks", "must be a list of at most one readiness check")
        return
    names = [d.get("name") for d in app["portDefinitions"] or [] if isinstance(d, dict)]
    out = []
    for i, given in enumerate(checks):
        where = f"/readinessChecks({i})"
        if not isinstance(given, dict):
            errors.add(where, "must be an object")
            continue
        check = {**READINESS_DEFAULTS, **{k: v for k, v in given.items() if k in READINESS_DEFAULTS}}
        check["protocol"] = str(check["protocol"]).upper()
        if check["protocol"] not in ("HTTP", "HTTPS"):
            errors.add(f"{where}/protocol", "must be HTTP or HTTPS")
        for key in ("name", "path", "portName"):
            if not isinstance(check[key], str) or not check[key]:
                errors.add(f"{where}/{key}", "must be non-empty text")
        if isinstance(check["path"], str) and check["path"] and local_url("http", 1, check["path"]) is None:
            errors.add(f"{where}/path", "must be an absolute path on the task's host")
        if isinstance(check["portName"], str) and check["portName"] not in names:
            errors.add(f"{where}/portName", "must be the name of one of the app's portDefinitions")
        for key in ("intervalSeconds", "timeoutSeconds"):
            v = check[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 86400:
                errors.add(f"{where}/{key}", "must be a number of seconds > 0")
        interval, timeout = check["intervalSeconds"], check["timeoutSeconds"]
        if all(isinstance(v, (int, float)) for v in (interval, timeout)) and timeout >= interval:
            errors.add(f"{where}/timeoutSeconds", "must be less than intervalSeconds")
        codes = check["httpStatusCodesForReady"]
        if (not isinstance(codes, list) or not codes
                or not all(isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes)):
            errors.add(f"{where}/httpStatusCodesForReady", "must be a non-empty list of HTTP status codes")
        flag = _flag(check["preserveLastResponse"])
        if flag is None:
            errors.add(f"{where}/preserveLastResponse", "must be true or false")
        else:
            check["preserveLastResponse"] = flag
        out.append(check)
    app["readinessChecks"] = out


def _check_strategy(app: dict, errors: _Errors) -> None:
    strategy = app["upgradeStrategy"]
    if not isinstance(strategy, dict):
        errors.add("/upgradeStrategy", "must be an object")
        return
    merged = {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0, **strategy}
    for key in ("minimumHealthCapacity", "maximumOverCapacity"):
        v = merged[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            errors.add(f"/upgradeStrategy/{key}", "must be between 0 and 1")
        else:
            merged[key] = float(v)
    app["upgradeStrategy"] = {k: merged[k] for k in ("minimumHealthCapacity", "maximumOverCapacity")}
    unreachable = app["unreachableStrategy"]
    if unreachable == "disabled":
        return
    if not isinstance(unreachable, dict):
        errors.add("/unreachableStrategy", "must be an object or \"disabled\"")
        return
    merged = {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600, **unreachable}  # Marathon 1.4's defaults
    fine = True
    for key in ("inactiveAfterSeconds", "expungeAfterSeconds"):
        v = merged[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1e9:
            errors.add(f"/unreachableStrategy/{key}", "must be a number of seconds >= 0")
            fine = False
    if fine and merged["expungeAfterSeconds"] < merged["inactiveAfterSeconds"]:
        errors.add("/unreachableStrategy/expungeAfterSeconds", "must be greater than or equal to inactiveAfterSeconds")
    app["unreachableStrategy"] = {k: merged[k] for k in ("inactiveAfterSeconds", "expungeAfterSeconds")}


def config_equal(a: dict, b: dict) -> bool:
    """Do two definitions differ only in `instances` (a scale, not a restart)?"""
    strip = lambda d: {k: v for k, v in d.items() if k not in ("instances", "version", "versionInfo")}  # noqa: E731
    return strip(a) == strip(b)
