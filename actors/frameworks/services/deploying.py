"""Deployments: the steps of a change, and when each is done.

A change of one app is one deployment: a new app `StartApplication` then
`ScaleApplication`; a change of `instances` alone `ScaleApplication`; any other change,
or a restart, `RestartApplication`; a removal `StopApplication`. A step is done when its
apps have exactly their instances, all of the current configuration and ready (running,
and healthy when checked); a stop when no task is left.

>>> steps_for(None, {"id": "/a"}, restart=False)
[[{'action': 'StartApplication', 'app': '/a'}], [{'action': 'ScaleApplication', 'app': '/a'}]]
>>> steps_for({"id": "/a", "cmd": "x", "instances": 1}, {"id": "/a", "cmd": "x", "instances": 3}, restart=False)
[[{'action': 'ScaleApplication', 'app': '/a'}]]
"""

from __future__ import annotations

from typing import Any, Iterable

from actors.frameworks.services.appdef import config_equal
from actors.frameworks.services.model import AppRecord, Deployment


def steps_for(before: dict | None, after: dict | None, *, restart: bool) -> list[list[dict[str, str]]]:
    app_id = (after or before or {})["id"]
    if after is None:
        return [[{"action": "StopApplication", "app": app_id}]]
    if before is None:
        return [[{"action": "StartApplication", "app": app_id}], [{"action": "ScaleApplication", "app": app_id}]]
    if restart or not config_equal(before, after):
        return [[{"action": "RestartApplication", "app": app_id}]]
    return [[{"action": "ScaleApplication", "app": app_id}]]


def ordered_steps(targets: dict[str, Any], originals: dict[str, Any], *, restart: bool,
                  level: dict[str, int]) -> list[list[dict[str, str]]]:
    """The steps of one deployment of several apps, as Marathon orders them: removed apps
    stopped dependents first, one step per level; new apps started (no instances) in one
    step; then each level's scales and restarts, dependencies first.

    >>> ordered_steps({"/db": {"id": "/db"}, "/web": {"id": "/web"}}, {}, restart=False, level={"/db": 0, "/web": 1})
    [[{'action': 'StartApplication', 'app': '/db'}, {'action': 'StartApplication', 'app': '/web'}], \
[{'action': 'ScaleApplication', 'app': '/db'}], [{'action': 'ScaleApplication', 'app': '/web'}]]
    """
    stops: dict[int, list[dict[str, str]]] = {}
    starts: list[dict[str, str]] = []
    changes: dict[int, list[dict[str, str]]] = {}
    for app_id in sorted(targets):
        at = level.get(app_id, 0)
        for step in steps_for(originals.get(app_id), targets[app_id], restart=restart):
            for action in step:
                if action["action"] == "StopApplication":
                    stops.setdefault(at, []).append(action)
                elif action["action"] == "StartApplication":
                    starts.append(action)
                else:
                    changes.setdefault(at, []).append(action)
    steps = [stops[at] for at in sorted(stops, reverse=True)]
    if starts:
        steps.append(starts)
    return steps + [changes[at] for at in sorted(changes)]


def held_apps(deployments: Iterable[Deployment]) -> set[str]:
    """Apps whose turn in a deployment has not come: an action of theirs (other than the
    start, which only creates the app) is in a later step than the current one. They
    neither launch nor kill until it comes."""
    held: set[str] = set()
    for d in deployments:
        for step in d.steps[d.current_step:]:
            held.update(a["app"] for a in step if a["action"] != "StartApplication")
    return held


def action_done(action: dict[str, str], app: AppRecord | None) -> bool:
    if action["action"] == "StopApplication":
        return app is None or not app.tasks
    if app is None:
        return action["action"] != "StartApplication" and False
    if action["action"] == "StartApplication":
        return True
    live = app.live()
    if len(live) != app.definition["instances"] or any(t.killing for t in app.tasks.values()):
        return False  # (an inactive unreachable task does not hold a deployment up)
    version = app.config_version
    return all(t.config_version == version and app.ready(t) for t in live)


def plan_json(d: Deployment) -> dict[str, Any]:
    """The `plan` of deployment events."""
    return {
        "id": d.id,
        "version": d.version,
        "original": {"id": "/", "apps": [a for a in d.originals.values() if a], "groups": [], "pods": [],
                     "dependencies": [], "version": d.version},
        "target": {"id": "/", "apps": [a for a in d.targets.values() if a], "groups": [], "pods": [],
                   "dependencies": [], "version": d.version},
        "steps": [{"actions": step} for step in d.steps],
    }
