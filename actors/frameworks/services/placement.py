"""Keeping instances running: offers become tasks, status updates move tasks, the plan
of each app (rollout.py) says what to launch and kill. The base of `Services` (core.py).

Actions for the scheduler actor accumulate in `actions`:
("launch", offer, [TaskInfo]), ("decline", offer_id, refuse_seconds),
("kill", task_id, agent_id, grace_seconds), ("revive",), ("suppress",).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from actors.frameworks.hosting.store import StateStore
from actors.frameworks.services import launching, rollout
from actors.frameworks.services.matching import Fit, match
from actors.frameworks.services.model import AppRecord, TaskRecord
from actors.frameworks.services.paths import task_prefix
from actors.frameworks.services.timefmt import iso
from messages import Offer, Resources, TaskStatus

log = logging.getLogger(__name__)

FAILED = ("TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR",
          "TASK_UNKNOWN")
TERMINAL = FAILED + ("TASK_FINISHED", "TASK_KILLED")
DECLINE_SECONDS = 5.0
MAX_EXPUNGED = 10_000
NOTHING_TO_DO_SECONDS = 120.0


class Placement:
    def __init__(self, *, now: Callable[[], float], new_id: Callable[[], Any], emit: Callable[[dict], None],
                 store: StateStore) -> None:
        self.now, self.new_uuid, self.emit, self.store = now, new_id, emit, store
        self.apps: dict[str, AppRecord] = {}
        self.stopping: dict[str, AppRecord] = {}  # deleted apps whose tasks are being killed
        self.task_app: dict[str, str] = {}
        self.pending_tasks: dict[str, TaskRecord] = {}  # stored tasks of apps not (yet) known
        self.actions: list[tuple] = []
        self.suppressed = False
        self.dirty = False  # something changed that wake() should look at
        self.plans: dict[str, int] = {}  # app id -> instances to launch, as of the last wake()
        self.expunged: dict[str, None] = {}  # ids of expunged unreachable tasks (the latest, in order)

    # --- what to do now -------------------------------------------------------------------

    def wake(self) -> None:
        """Plan every app: kill what should go, count what should start, ask for offers."""
        self.plans = {}
        self.dirty = False
        now = self.now()
        held = self.held()
        for app in list(self.stopping.values()):
            if app.id not in held:
                for task in list(app.tasks.values()):
                    self.kill_task(app, task)
        for app in self.apps.values():
            self._sweep_unreachable(app, now)
            launches, kills = rollout.plan(app) if app.id not in held else (0, [])
            for task_id in kills:
                self.kill_task(app, app.tasks[task_id])
            if launches > 0:
                if app.waiting_since is None:
                    app.waiting_since = now
                if app.delay.until <= now:
                    self.plans[app.id] = launches
            else:
                app.waiting_since = None
                app.unused_offers.clear()
                app.offer_summary.clear()
        wanted = bool(self.plans)
        if wanted and self.suppressed:
            self.actions.append(("revive",))
            self.suppressed = False
        elif not wanted and not self.suppressed and not self._delayed():
            self.actions.append(("suppress",))
            self.suppressed = True
        if hasattr(self, "progress"):
            self.progress()

    def held(self) -> set[str]:
        """Apps waiting for their turn in a deployment (core.py knows the deployments)."""
        return set()

    def _sweep_unreachable(self, app: AppRecord, now: float) -> None:
        """unreachableStrategy: an unreachable task stops counting (and is replaced) after
        `inactiveAfterSeconds`, and is expunged (forgotten, killed should it come back)
        after `expungeAfterSeconds`; "disabled" waits for its agent however long."""
        strategy = app.definition.get("unreachableStrategy")
        if not isinstance(strategy, dict):
            return
        for task in [t for t in app.tasks.values() if t.unreachable_since is not None]:
            away = now - task.unreachable_since
            if away >= strategy["expungeAfterSeconds"]:
                self._expunge(app, task)
            elif away >= strategy["inactiveAfterSeconds"] and not task.inactive:
                task.inactive = True
                self.store.put(f"task:{task.id}", task.to_store())
                self._changed(app, task, "unreachable for longer than inactiveAfterSeconds", "UnreachableInactive")

    def _expunge(self, app: AppRecord, task: TaskRecord) -> None:
        del app.tasks[task.id]
        self.task_app.pop(task.id, None)
        self.store.delete(f"task:{task.id}")
        self.expunged[task.id] = None
        while len(self.expunged) > MAX_EXPUNGED:
            del self.expunged[next(iter(self.expunged))]
        task.killing = True
        self._changed(app, task, "unreachable for longer than expungeAfterSeconds: expunged", "Gone")
        # the master keeps the kill for when the agent comes back
        self.actions.append(("kill", task.id, task.agent_id, app.definition.get("taskKillGracePeriodSeconds")))
        if app.id in self.stopping:
            self._finish_stopping(app.id)

    def unreachable_tasks(self) -> list[tuple[str, str]]:
        """(task id, agent id) of the tasks whose agent is unreachable: the scheduler asks
        the master about them now and then (an agent coming back does not say so itself)."""
        return [(t.id, t.agent_id) for a in self.apps.values() for t in a.tasks.values()
                if t.unreachable_since is not None]

    def _delayed(self) -> bool:
        now = self.now()
        return any(a.waiting_since is not None and a.delay.until > now for a in self.apps.values())

    def next_delay_end(self) -> float | None:
        now = self.now()
        ends = [a.delay.until for a in self.apps.values() if a.waiting_since is not None and a.delay.until > now]
        return min(ends) if ends else None

    # --- offers ---------------------------------------------------------------------------

    def on_offers(self, offers: list[Offer]) -> None:
        self.wake()
        for offer in offers:
            tasks = []
            remaining = offer.resources
            for app_id in sorted(self.plans, key=lambda a: self.apps[a].waiting_since or 0.0):
                app = self.apps[app_id]
                while self.plans.get(app_id, 0) > 0:
                    view = Offer(offer.offer_id, offer.framework_id, offer.agent_id, offer.hostname, remaining,
                                 offer.role, offer.attributes)
                    placed = [(t.host, self.agent_attributes.get(t.agent_id, {})) for t in app.live()
                              ] if app.definition["constraints"] else []
                    fit = match(app.definition, view, placed)
                    if not isinstance(fit, Fit):
                        self._unused(app, offer, fit)
                        break
                    task = self._launch(app, offer, fit)
                    if task is not None:
                        tasks.append(task)
                    remaining = remaining - fit.resources
                    self.plans[app_id] -= 1
                if not self.plans.get(app_id):
                    self.plans.pop(app_id, None)
            if tasks:
                self.actions.append(("launch", offer, tasks))
            else:
                # a short refusal while anything waits (for offers, or out its backoff)
                waiting = self.plans or self._delayed()
                self.actions.append(("decline", offer.offer_id, DECLINE_SECONDS if waiting else NOTHING_TO_DO_SECONDS))
        if not self.plans:
            self.wake()

    @property
    def agent_attributes(self) -> dict[str, dict[str, str]]:
        if not hasattr(self, "_agent_attributes"):
            self._agent_attributes: dict[str, dict[str, str]] = {}
        return self._agent_attributes

    def _launch(self, app: AppRecord, offer: Offer, fit: Fit) -> Any:
        d = app.definition
        self.agent_attributes[offer.agent_id] = dict(offer.attributes)
        task_id = f"{task_prefix(app.id)}.{self.new_uuid()}"
        record = TaskRecord(task_id, app.id, d["version"], app.config_version, offer.agent_id, offer.hostname,
                            fit.ports, self.now(), service_ports=list(d.get("ports") or []),
                            ready_pending=bool(d.get("readinessChecks")))
        app.tasks[task_id] = record
        self.task_app[task_id] = app.id
        self.store.put(f"task:{task_id}", record.to_store())
        self._changed(app, record, "")
        return launching.build_task(d, offer, fit, task_id)

    def _unused(self, app: AppRecord, offer: Offer, reasons: list[str]) -> None:
        app.unused_offers.append({
            "offer": {"id": offer.offer_id, "agentId": offer.agent_id, "hostname": offer.hostname,
                      "resources": _resources_json(offer.resources),
                      "attributes": [{"name": k, "text": v} for k, v in sorted(offer.attributes.items())]},
            "timestamp": iso(self.now()),
            "reason": reasons,
        })
        for reason in reasons:
            key = reason.split("(", 1)[0]
            app.offer_summary[key] = app.offer_summary.get(key, 0) + 1
        app.offer_summary["processed"] = app.offer_summary.get("processed", 0) + 1

    # --- tasks ----------------------------------------------------------------------------

    def kill_task(self, app: AppRecord, task: TaskRecord) -> None:
        if task.killing:
            return
        if task.unreachable_since is not None:  # no agent to kill it now: expunged, as Marathon does
            self._expunge(app, task)
            return
        task.killing = True
        grace = app.definition.get("taskKillGracePeriodSeconds")
        self.actions.append(("kill", task.id, task.agent_id, grace))

    def on_status(self, status: TaskStatus) -> None:
        state = status.state.value
        app_id = self.task_app.get(status.task_id)
        app = (self.apps.get(app_id) or self.stopping.get(app_id)) if app_id else None
        if app is None or status.task_id not in app.tasks:
            self._unknown(status)
            return
        task = app.tasks[status.task_id]
        if state in TERMINAL:
            del app.tasks[task.id]
            self.task_app.pop(task.id, None)
            self.store.delete(f"task:{task.id}")
            task.state = state
            self._changed(app, task, status.message)
            if not task.killing:  # it ended by itself: replaced after the app's backoff
                self._failed(app, task.id, task.agent_id, task.host, state, status.message, task)
            if app.id in self.stopping:
                self._finish_stopping(app.id)
        else:
            if state == "TASK_RUNNING" and task.started_at is None:
                task.started_at = status.timestamp or self.now()
            if state == "TASK_UNREACHABLE" and task.killing:
                task.unreachable_since = self.now()  # being killed already: expunged at once
                task.killing = False
                self._expunge(app, task)
                self.dirty = True
                return
            if state == "TASK_UNREACHABLE" and task.unreachable_since is None:
                task.unreachable_since = self.now()  # its unreachableStrategy counts from here
                self.store.put(f"task:{task.id}", task.to_store())
            elif state != "TASK_UNREACHABLE" and task.unreachable_since is not None:
                # its agent is back before the task was expunged: kept (a spare started
                # meanwhile is one too many, and goes by killSelection)
                task.unreachable_since, task.inactive = None, False
                self.store.put(f"task:{task.id}", task.to_store())
            if task.state != state:
                task.state = state
                self._changed(app, task, status.message)
        self.dirty = True  # planned once per burst of updates (the scheduler calls wake())

    def _unknown(self, status: TaskStatus) -> None:
        """A task we do not know (e.g. launched by a process that died before storing it):
        adopt it when it belongs to an app we run, else kill it."""
        state = status.state.value
        if state in TERMINAL:
            return
        app_id = self._app_of_task(status.task_id)
        app = self.apps.get(app_id) if app_id else None
        if app is None or status.task_id in self.expunged:  # an expunged task is killed if it comes back
            self.actions.append(("kill", status.task_id, status.agent_id, None))
            return
        record = TaskRecord(status.task_id, app.id, app.definition["version"], app.config_version, status.agent_id,
                            status.agent_id, [], status.timestamp or self.now(), state=state,
                            started_at=status.timestamp if state == "TASK_RUNNING" else None)
        app.tasks[record.id] = record
        self.task_app[record.id] = app.id
        self.store.put(f"task:{record.id}", record.to_store())
        self.wake()

    def _app_of_task(self, task_id: str) -> str | None:
        prefix = task_id.rsplit(".", 1)[0]
        for app_id in self.apps:
            if task_prefix(app_id) == prefix:
                return app_id
        return None

    def _failed(self, app: AppRecord, task_id: str, agent_id: str, host: str, state: str, message: str,
                task: TaskRecord | None = None) -> None:
        d = app.definition
        app.delay.failures += 1
        app.delay.until = self.now() + app.delay.delay_for(d)
        app.last_failure = {"appId": app.id, "host": host, "message": message or state, "state": state,
                            "taskId": task_id, "timestamp": iso(self.now()),
                            "version": task.version if task else d["version"], "slaveId": agent_id}

    def on_agent_lost(self, agent_id: str) -> None:
        """Tasks there come back as TASK_LOST/UNREACHABLE through the master; nothing else to do."""
        self.agent_attributes.pop(agent_id, None)

    def _finish_stopping(self, app_id: str) -> None:
        app = self.stopping.get(app_id)
        if app is not None and not app.tasks:
            del self.stopping[app_id]
            if hasattr(self, "progress"):
                self.progress()

    def _changed(self, app: AppRecord, task: TaskRecord, message: str, condition: str | None = None) -> None:
        now = iso(self.now())
        self.emit({"eventType": "status_update_event", "timestamp": now, "slaveId": task.agent_id,
                   "taskId": task.id, "taskStatus": task.state, "message": message, "appId": app.id,
                   "host": task.host, "ipAddresses": [], "ports": task.ports, "version": task.version})
        self.emit({"eventType": "instance_changed_event", "instanceId": task.id,
                   "condition": condition or _condition(task.state),
                   "runSpecId": app.id, "agentId": task.agent_id, "host": task.host,
                   "runSpecVersion": task.version, "timestamp": now, "goal": "Stopped" if task.killing else "Running"})

    def _reported_task(self, result: Any, agent_id: str | None) -> tuple[Any, Any]:
        """(app, task) a check result from an executor is about, or (None, None). With
        `agent_id` (the agent the master checked it came through), only a task on that
        agent: one agent's executor cannot fail or pass another agent's tasks."""
        if not isinstance(result, dict) or not isinstance(result.get("taskId"), str):
            return None, None
        app_id = self.task_app.get(result["taskId"])
        app = self.apps.get(app_id) if app_id else None
        task = app.tasks.get(result["taskId"]) if app else None
        if task is None or (agent_id is not None and task.agent_id != agent_id):
            return None, None
        return app, task

    def on_health(self, result: Any, agent_id: str | None = None) -> None:
        """A result of a task's health check, reported by its executor (on `agent_id`)."""
        app, task = self._reported_task(result, agent_id)
        if app is None or task is None:
            return
        keys = ("alive", "consecutiveFailures", "firstSuccess", "lastSuccess", "lastFailure", "lastFailureCause",
                "taskId", "instanceId")
        was = task.health.get("alive") if task.health else None
        task.health = {k: result.get(k) for k in keys}
        task.health["alive"] = bool(result.get("alive"))
        if was != task.health["alive"]:
            self.emit({"eventType": "health_status_changed_event", "timestamp": iso(self.now()), "appId": app.id,
                       "taskId": task.id, "instanceId": task.id, "version": task.version,
                       "alive": task.health["alive"]})
        checks = app.definition.get("healthChecks") or []
        limit = min((int(c.get("maxConsecutiveFailures") or 0) for c in checks), default=0)
        failures = int(result.get("consecutiveFailures") or 0)
        if not task.health["alive"] and failures:
            self.emit({"eventType": "failed_health_check_event", "timestamp": iso(self.now()), "appId": app.id,
                       "taskId": task.id, "instanceId": task.id, "healthCheck": checks[0] if checks else {}})
        if limit and failures >= limit and not task.killing:
            self.emit({"eventType": "unhealthy_instance_kill_event", "timestamp": iso(self.now()), "appId": app.id,
                       "taskId": task.id, "instanceId": task.id, "version": task.version,
                       "reason": result.get("lastFailureCause") or "unhealthy", "host": task.host,
                       "slaveId": task.agent_id})
            self.kill_task(app, task)
            app.last_failure = {"appId": app.id, "host": task.host, "message": "unhealthy: "
                                + str(result.get("lastFailureCause") or ""), "state": "TASK_KILLED",
                                "taskId": task.id, "timestamp": iso(self.now()), "version": task.version,
                                "slaveId": task.agent_id}
        self.wake()

    def on_readiness(self, result: Any, agent_id: str | None = None) -> None:
        """A result of a task's readiness check, reported by its executor (on `agent_id`):
        a ready task counts toward its deployment (and lets an old one go)."""
        app, task = self._reported_task(result, agent_id)
        checks = app.definition.get("readinessChecks") if app else None
        if app is None or task is None or not checks or not task.ready_pending:
            return
        record: dict[str, Any] = {"name": checks[0]["name"], "taskId": task.id, "ready": result.get("ready") is True}
        response = result.get("lastResponse")
        if checks[0]["preserveLastResponse"] and isinstance(response, dict):
            record["lastResponse"] = {"status": response.get("status"), "contentType": response.get("contentType"),
                                      "body": str(response.get("body") or "")[:65536]}
        task.readiness = record
        if record["ready"]:
            task.ready_pending = False
            self.store.put(f"task:{task.id}", task.to_store())
            self.dirty = True

    def readiness_results(self, app_id: str) -> list[dict[str, Any]]:
        app = self.apps.get(app_id)
        return app.readiness_results() if app is not None else []

    def reset_delay(self, app_id: str) -> None:
        app = self.apps[app_id]
        app.delay.failures, app.delay.until = 0, 0.0
        self.wake()

    def adopt_stored(self) -> list[tuple[str, str]]:
        """(task id, agent id) of every task known: for an explicit reconciliation."""
        return [(t.id, t.agent_id) for a in list(self.apps.values()) + list(self.stopping.values())
                for t in a.tasks.values()]


def _condition(state: str) -> str:
    return {"TASK_STAGING": "Staging", "TASK_STARTING": "Starting", "TASK_RUNNING": "Running",
            "TASK_KILLING": "Killing", "TASK_KILLED": "Killed", "TASK_FINISHED": "Finished",
            "TASK_FAILED": "Failed", "TASK_ERROR": "Error", "TASK_LOST": "Gone", "TASK_DROPPED": "Dropped",
            "TASK_UNREACHABLE": "Unreachable", "TASK_GONE": "Gone"}.get(state, "Unknown")


def _resources_json(resources: Resources) -> list[dict[str, Any]]:
    out = []
    for name, role, value in resources.items():
        if isinstance(value, int):
            out.append({"name": name, "role": role, "scalar": value / 1000})
        elif isinstance(value, tuple):
            out.append({"name": name, "role": role, "ranges": [{"begin": b, "end": e} for b, e in value]})
        else:
            out.append({"name": name, "role": role, "set": sorted(value)})
    return out
