"""How many instances to launch and which tasks to kill, for one app, now: scaling,
replacing lost tasks, and rolling restarts/upgrades within the upgrade strategy.

The health floor is never crossed by a kill of ours: a ready task of an old version is
killed only while the ready tasks number more than `ceil(instances *
minimumHealthCapacity)`. New tasks are started while the live tasks number fewer than
`floor(instances * (1 + maximumOverCapacity))`; when both limits leave no move (floor 1,
over-capacity 0), one extra task is started (**differs** from Marathon, which then kills
first and breaks the floor).

>>> from actors.frameworks.services.model import AppRecord, TaskRecord
>>> app = AppRecord({"id": "/a", "instances": 2, "healthChecks": [], "killSelection": "YOUNGEST_FIRST",
...                  "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0},
...                  "versionInfo": {"lastConfigChangeAt": "v2"}})
>>> for i in (1, 2):
...     app.tasks[f"t{i}"] = TaskRecord(f"t{i}", "/a", "v1", "v1", "ag", "h", [], float(i), "TASK_RUNNING")
>>> plan(app)   # the oldest may go (one stays, the floor is 1), and its replacement start
(1, ['t1'])
"""

from __future__ import annotations

import math

from actors.frameworks.services.model import AppRecord, TaskRecord


def plan(app: AppRecord) -> tuple[int, list[str]]:
    """(instances to launch now, task ids to kill now)."""
    d = app.definition
    n = d["instances"]
    live = app.live()
    version = app.config_version
    current = [t for t in live if t.config_version == version]
    old = [t for t in live if t.config_version != version]
    if not old:
        if len(current) > n:
            return 0, [t.id for t in _kill_order(current, d["killSelection"])[: len(current) - n]]
        return n - len(current), []
    strategy = d["upgradeStrategy"]
    floor = math.ceil(n * strategy["minimumHealthCapacity"])
    ceiling = max(n, math.floor(n * (1 + strategy["maximumOverCapacity"])))
    kills: list[str] = []
    # Old tasks that are not ready do not hold the floor up: they may go at once.
    for t in old:
        if not app.ready(t):
            kills.append(t.id)
    ready_old = [t for t in old if app.ready(t)]
    ready = len(ready_old) + sum(1 for t in current if app.ready(t))
    order = _kill_order(ready_old, "OLDEST_FIRST")
    kills += [t.id for t in order[: max(0, ready - floor)]]
    remaining = len(live) - len(kills)
    launches = max(0, min(n - len(current), ceiling - remaining))
    pending_new = any(not app.ready(t) for t in current)
    if launches == 0 and not kills and len(current) < n and not pending_new:
        launches = 1  # both limits block: exceed capacity by one rather than break the floor
    return launches, kills


def _kill_order(tasks: list[TaskRecord], selection: str) -> list[TaskRecord]:
    """Tasks not running go first; then the youngest (or oldest) first."""
    youngest = selection == "YOUNGEST_FIRST"
    return sorted(tasks, key=lambda t: (t.running, -t.staged_at if youngest else t.staged_at))
