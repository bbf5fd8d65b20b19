"""A task for one instance of an app: its command, environment (Marathon's variables)
and resources, as a TaskInfo for the offer's agent.

>>> env = task_env({"id": "/team/web", "version": "v", "env": {"A": "1"}, "cpus": 1.0, "mem": 64.0,
...                 "disk": 0.0, "labels": {"tier": "web"}, "portDefinitions": [{"port": 80}]},
...                "team_web.1", "host-1", [31000])
>>> env["PORT0"], env["PORTS"], env["PORT_80"], env["HOST"], env["MARATHON_APP_ID"], env["MARATHON_APP_LABEL_TIER"]
('31000', '31000', '31000', 'host-1', '/team/web', 'web')
"""

from __future__ import annotations

import json
from typing import Any

from actors.frameworks.services.matching import Fit
from messages import CommandInfo, Offer, TaskInfo

UNSUPPORTED_CONTAINERS = ("DOCKER",)


def task_env(app: dict[str, Any], task_id: str, host: str, ports: list[int]) -> dict[str, str]:
    env = dict(app.get("env") or {})
    for i, port in enumerate(ports):
        env[f"PORT{i}"] = str(port)
        definition = (app.get("portDefinitions") or [])[i] if i < len(app.get("portDefinitions") or []) else {}
        if definition.get("port"):
            env[f"PORT_{definition['port']}"] = str(port)
        if definition.get("name"):
            env[f"PORT_{definition['name'].upper()}"] = str(port)
    if ports:
        env["PORT"] = str(ports[0])
        env["PORTS"] = ",".join(str(p) for p in ports)
    labels = app.get("labels") or {}
    env.update({
        "HOST": host,
        "MESOS_TASK_ID": task_id,
        "MARATHON_APP_ID": app["id"],
        "MARATHON_APP_VERSION": app["version"],
        "MARATHON_APP_RESOURCE_CPUS": str(app["cpus"]),
        "MARATHON_APP_RESOURCE_MEM": str(app["mem"]),
        "MARATHON_APP_RESOURCE_DISK": str(app["disk"]),
        "MARATHON_APP_LABELS": " ".join(_label_name(k) for k in labels),
    })
    for key, value in labels.items():
        env[f"MARATHON_APP_LABEL_{_label_name(key)}"] = value
    return env


def _label_name(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key).upper()


def unsupported_container(app: dict[str, Any]) -> str | None:
    """Why the agents cannot run this app's container, or None."""
    container = app.get("container") or {}
    kind = str(container.get("type", "MESOS")).upper() if isinstance(container, dict) else "MESOS"
    if kind in UNSUPPORTED_CONTAINERS:
        return (f"{kind} containers are not supported by mesobus agents: tasks run as processes "
                "(use cmd/args, or container type MESOS without an image)")
    return None


def build_task(app: dict[str, Any], offer: Offer, fit: Fit, task_id: str) -> TaskInfo:
    env = task_env(app, task_id, offer.hostname, fit.ports)
    user = app.get("user") or ""
    if app.get("cmd"):
        command = CommandInfo(value=app["cmd"], environment=env, user=user)
    else:
        argv = tuple(app["args"])
        command = CommandInfo(value=argv[0], arguments=argv, shell=False, environment=env, user=user)
    labels = {str(k): str(v) for k, v in (app.get("labels") or {}).items()}
    return TaskInfo(
        task_id=task_id,
        name=app["id"].strip("/").replace("/", "."),
        agent_id=offer.agent_id,
        resources=fit.resources,
        command=command,
        labels=labels,
        kill_grace_period=app.get("taskKillGracePeriodSeconds"),
        # run by the executor next to the task (actors/executor/health.py, readiness.py)
        data=_checks_data(app),
    )


def _checks_data(app: dict[str, Any]) -> bytes:
    """The health and readiness checks for the executor, a readiness check's named port
    given as its index among the task's ports."""
    checks: dict[str, Any] = {}
    if app.get("healthChecks"):
        checks["healthChecks"] = app["healthChecks"]
    if app.get("readinessChecks"):
        names = [d.get("name") for d in app.get("portDefinitions") or []]
        checks["readinessChecks"] = [dict(c, portIndex=names.index(c["portName"]) if c["portName"] in names else -1)
                                     for c in app["readinessChecks"]]
    return json.dumps(checks).encode() if checks else b""
