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
from messages import CommandInfo, CommandURI, ContainerInfo, ContainerType, Offer, TaskInfo


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


def fetch_uris(app: dict[str, Any]) -> tuple[CommandURI, ...]:
    """Marathon's `uris` (text: extracted if an archive) and `fetch` ({uri, executable,
    extract, cache, destPath}) as the task's CommandInfo.uris.

    >>> [(u.value, u.executable, u.output_file) for u in fetch_uris({"uris": ["http://h/a.tgz"],
    ...     "fetch": [{"uri": "http://h/run", "executable": True, "destPath": "bin/run"}]})]
    [('http://h/a.tgz', False, ''), ('http://h/run', True, 'bin/run')]
    """
    uris = [CommandURI(u) for u in app.get("uris") or []]
    for item in app.get("fetch") or []:
        uris.append(CommandURI(
            item["uri"],
            executable=bool(item.get("executable", False)),
            extract=bool(item.get("extract", True)),
            cache=bool(item.get("cache", False)),
            output_file=item.get("destPath") or "",
        ))
    return tuple(uris)


def container_info(app: dict[str, Any]) -> ContainerInfo | None:
    """Marathon's `container` as Mesos' ContainerInfo: DOCKER with `docker.image`, or MESOS
    with an image (`docker.image` or `appc.image`) or none. The agent decides what runs.

    >>> container_info({"container": {"type": "DOCKER", "docker": {"image": "nginx"}}})
    ContainerInfo(type=<ContainerType.DOCKER: 'DOCKER'>, image='nginx')
    """
    container = app.get("container")
    if not isinstance(container, dict):
        return None
    image = ""
    for engine in ("docker", "appc"):
        if isinstance(container.get(engine), dict) and isinstance(container[engine].get("image"), str):
            image = container[engine]["image"]
            break
    kind = ContainerType.MESOS if str(container.get("type", "DOCKER")).upper() == "MESOS" else ContainerType.DOCKER
    return ContainerInfo(kind, image=image)


def build_task(app: dict[str, Any], offer: Offer, fit: Fit, task_id: str) -> TaskInfo:
    env = task_env(app, task_id, offer.hostname, fit.ports)
    user = app.get("user") or ""
    uris = fetch_uris(app)
    if app.get("cmd"):
        command = CommandInfo(value=app["cmd"], environment=env, user=user, uris=uris)
    elif app.get("args"):
        argv = tuple(app["args"])
        command = CommandInfo(value=argv[0], arguments=argv, shell=False, environment=env, user=user, uris=uris)
    else:  # a container's image runs its own entrypoint
        command = CommandInfo(shell=False, environment=env, user=user, uris=uris)
    labels = {str(k): str(v) for k, v in (app.get("labels") or {}).items()}
    return TaskInfo(
        task_id=task_id,
        name=app["id"].strip("/").replace("/", "."),
        agent_id=offer.agent_id,
        resources=fit.resources,
        command=command,
        labels=labels,
        kill_grace_period=app.get("taskKillGracePeriodSeconds"),
        container=container_info(app),
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
