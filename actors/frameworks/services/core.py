"""The services framework's state machine: apps, their tasks and deployments, driven by
API calls, offers, status updates and the clock; what to do is left in `actions` for the
scheduler actor to send. No I/O but the state store and the `emit` of events, so unit
tests drive it with plain values and a virtual clock.

>>> from actors.frameworks.hosting import MemoryStore
>>> s = Services(MemoryStore(), now=lambda: 0.0, new_id=iter(range(100)).__next__, emit=lambda e: None)
>>> app, deployment, created = s.put_app({"id": "/web", "cmd": "sleep 100", "instances": 2})
>>> app.id, created, [a["action"] for step in deployment.steps for a in step]
('/web', True, ['StartApplication', 'ScaleApplication'])
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from actors.frameworks.hosting.store import StateStore
from actors.frameworks.services import deploying
from actors.frameworks.services.appdef import normalize
from actors.frameworks.services.dependencies import levels, refuse_cycles
from actors.frameworks.services.errors import Conflict, NotFound
from actors.frameworks.services.model import MAX_VERSIONS, AppRecord, Deployment, TaskRecord
from actors.frameworks.services.placement import Placement
from actors.frameworks.services.timefmt import iso

log = logging.getLogger(__name__)


class Services(Placement):
    def __init__(self, store: StateStore, *, now: Callable[[], float], new_id: Callable[[], Any],
                 emit: Callable[[dict], None]) -> None:
        super().__init__(now=now, new_id=new_id, emit=emit, store=store)
        self.deployments: dict[str, Deployment] = {}
        self.version_store: dict[str, dict[str, dict]] = {}  # app id -> version -> definition
        self._last_version = 0.0

    # --- state from the store -------------------------------------------------------------

    def restore(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            kind, _, name = key.partition(":")
            try:
                if kind == "app":
                    self.apps[name] = AppRecord(value["definition"], list(value.get("versions") or []))
                elif kind == "ver":
                    app_id, _, version = name.rpartition("@")
                    self.version_store.setdefault(app_id, {})[version] = value
                elif kind == "dep":
                    self.deployments[name] = Deployment.from_store(value)
                elif kind == "task":
                    task = TaskRecord.from_store(value)
                    self.pending_tasks[task.id] = task
            except (KeyError, TypeError, ValueError) as err:
                log.warning("services: ignoring stored %s: %s", key, err)
        for task in list(self.pending_tasks.values()):
            app = self.apps.get(task.app_id) or self.stopping.get(task.app_id)
            if app is not None:
                app.tasks[task.id] = task
                self.task_app[task.id] = task.app_id
                del self.pending_tasks[task.id]
        for d in self.deployments.values():
            for app_id, target in d.targets.items():
                if target is None and app_id not in self.apps:
                    self.stopping.setdefault(app_id, AppRecord({"id": app_id, "instances": 0}))

    # --- apps -----------------------------------------------------------------------------

    def app(self, app_id: str) -> AppRecord:
        app = self.apps.get(app_id)
        if app is None:
            raise NotFound(f"App '{app_id}' does not exist")
        return app

    def put_app(self, raw: Any, *, app_id: str | None = None, force: bool = False,
                create_only: bool = False) -> tuple[AppRecord, Deployment | None, bool]:
        """Create or change an app: (its record, the deployment, whether it was created)."""
        existing = self.apps.get(app_id) if app_id else None
        if existing is None and app_id is None and isinstance(raw, dict) and isinstance(raw.get("id"), str):
            from actors.frameworks.services.paths import normalize_id

            existing = self.apps.get(normalize_id(raw["id"]))
            if existing is not None and create_only:
                raise Conflict(f"An app with id [{existing.id}] already exists.", [])
        previous = existing.definition if existing else None
        if previous is not None and isinstance(raw, dict) and set(raw) - {"id"} == {"version"}:
            raw = self.version(existing.id, str(raw["version"]))  # a rollback to that version
        definition = normalize(raw, app_id=app_id, previous=previous)
        self.check_dependencies([definition])
        self._check_unlocked(definition["id"], force)
        if definition["id"] in self.stopping:
            raise Conflict(f"App '{definition['id']}' is being removed", self._deployments_of(definition["id"]))
        restart = False
        info = self._stamp(definition, previous)
        version = definition["version"]
        if previous is not None and previous == {**definition, "version": previous["version"],
                                                 "versionInfo": previous["versionInfo"]}:
            return existing, None, False  # nothing changed: Marathon answers with no deployment
        record = existing or AppRecord(definition)
        record.definition = definition
        if previous is None or info["lastConfigChangeAt"] == version:
            record.delay.failures, record.delay.until = 0, 0.0  # a new configuration starts afresh
        self.apps[definition["id"]] = record
        self._save_app(record, new_version=True)
        deployment = self._deploy({definition["id"]: definition}, {definition["id"]: previous}, restart=restart)
        return record, deployment, previous is None

    def delete_app(self, app_id: str, force: bool = False) -> Deployment:
        self.app(app_id)
        self._check_unlocked(app_id, force)
        return self.remove_apps([app_id])

    def remove_apps(self, app_ids: list[str]) -> Deployment:
        """Remove these apps (checked already) in one deployment; their tasks are killed."""
        records = [self.apps.pop(app_id) for app_id in app_ids]
        for record in records:
            self.stopping[record.id] = record
            self.store.delete(f"app:{record.id}")
            for version in record.versions:
                self.store.delete(f"ver:{record.id}@{version}")
            self.version_store.pop(record.id, None)
        # their tasks are killed when their step comes (wake(): dependents first)
        deployment = self._deploy({r.id: None for r in records}, {r.id: r.definition for r in records},
                                  restart=False)
        for record in records:
            self._finish_stopping(record.id)
            self.emit({"eventType": "app_terminated_event", "appId": record.id, "timestamp": iso(self.now())})
        return deployment

    def restart_app(self, app_id: str, force: bool = False) -> Deployment:
        record = self.app(app_id)
        self._check_unlocked(app_id, force)
        previous = record.definition
        version = self._new_version()
        record.definition = dict(previous, version=version,
                                 versionInfo={"lastScalingAt": version, "lastConfigChangeAt": version})
        self._save_app(record, new_version=True)
        return self._deploy({app_id: record.definition}, {app_id: previous}, restart=True)

    def versions(self, app_id: str) -> list[str]:
        return list(reversed(self.app(app_id).versions))

    def version(self, app_id: str, version: str) -> dict:
        self.app(app_id)
        found = self.version_store.get(app_id, {}).get(version)
        if found is None:
            raise NotFound(f"App '{app_id}' does not exist in version {version}")
        return found

    # --- deployments ----------------------------------------------------------------------

    def _deploy(self, targets: dict[str, Any], originals: dict[str, Any], *, restart: bool) -> Deployment:
        for app_id in targets:  # a forced change replaces what was deploying the app
            for old in [d for d in self.deployments.values() if app_id in d.affected_apps]:
                self._end_deployment(old, "deployment_failed")
        graph = self.dependency_graph()
        for app_id, before in originals.items():  # removed apps: stopped in their order
            if targets.get(app_id) is None and before is not None:
                graph[app_id] = before.get("dependencies") or []
        level = levels(graph) if any(graph.values()) else {}  # (no dependencies anywhere: one level)
        steps = deploying.ordered_steps(targets, originals, restart=restart, level=level)
        version = next((t["version"] for t in targets.values() if t), iso(self.now()))
        deployment = Deployment(id=str(self.new_uuid()), version=version, affected_apps=sorted(targets),
                                steps=steps, started_at=self.now(), targets=targets, originals=originals)
        self.deployments[deployment.id] = deployment
        self.store.put(f"dep:{deployment.id}", deployment.to_store())
        self.emit({"eventType": "deployment_info", "timestamp": iso(self.now()), "plan": deploying.plan_json(deployment),
                   "currentStep": {"actions": deployment.current_actions()}})
        self.wake()
        return deployment

    def cancel_deployment(self, deployment_id: str, force: bool) -> Deployment | None:
        """force: forget it (the apps stay as they are); else roll back (a new deployment)."""
        d = self.deployments.get(deployment_id)
        if d is None:
            raise NotFound(f"DeploymentPlan {deployment_id} does not exist")
        self._end_deployment(d, "deployment_failed")
        if force:
            return None
        targets: dict[str, Any] = {}
        originals: dict[str, Any] = {}
        for app_id, before in d.originals.items():
            current = self.apps.get(app_id)
            if before is None:
                if current is not None:
                    del self.apps[app_id]
                    self.stopping[app_id] = current
                    self.store.delete(f"app:{app_id}")
                    for task in list(current.tasks.values()):
                        self.kill_task(current, task)
                targets[app_id], originals[app_id] = None, current.definition if current else None
                continue
            version = self._new_version()
            restored = dict(before, version=version)
            record = current or self.stopping.pop(app_id, None) or AppRecord(restored)
            record.definition = restored
            self.apps[app_id] = record
            self._save_app(record, new_version=True)
            targets[app_id], originals[app_id] = restored, current.definition if current else None
        rollback = self._deploy(targets, originals, restart=False)
        for app_id in list(self.stopping):
            self._finish_stopping(app_id)
        return rollback

    def progress(self) -> None:
        """Advance every deployment whose current step is done."""
        for d in list(self.deployments.values()):
            while d.id in self.deployments:
                actions = d.current_actions()
                if not all(deploying.action_done(a, self._acted_on(a)) for a in actions):
                    break
                self.emit({"eventType": "deployment_step_success", "timestamp": iso(self.now()),
                           "plan": deploying.plan_json(d), "currentStep": {"actions": actions}})
                d.current_step += 1
                self.dirty = True  # the apps of the next step may act now
                if d.current_step > len(d.steps):
                    d.current_step = len(d.steps)
                    self._end_deployment(d, "deployment_success")
                else:
                    self.store.put(f"dep:{d.id}", d.to_store())

    def _acted_on(self, action: dict[str, str]) -> AppRecord | None:
        if action["action"] == "StopApplication":
            return self.stopping.get(action["app"])
        return self.apps.get(action["app"])

    def held(self) -> set[str]:
        return deploying.held_apps(self.deployments.values())

    def dependency_graph(self) -> dict[str, list[str]]:
        return {app_id: list(a.definition.get("dependencies") or []) for app_id, a in self.apps.items()}

    def check_dependencies(self, definitions: list[dict]) -> None:
        """422 if these definitions, with the other apps, make a cycle of dependencies."""
        if not any(d.get("dependencies") for d in definitions):
            return
        graph = self.dependency_graph()
        graph.update({d["id"]: list(d.get("dependencies") or []) for d in definitions})
        refuse_cycles(graph)

    def _end_deployment(self, d: Deployment, event: str) -> None:
        self.deployments.pop(d.id, None)
        self.store.delete(f"dep:{d.id}")
        self.emit({"eventType": event, "timestamp": iso(self.now()), "id": d.id, "plan": deploying.plan_json(d)})

    def _deployments_of(self, app_id: str) -> list[str]:
        return [d.id for d in self.deployments.values() if app_id in d.affected_apps]

    def _check_unlocked(self, app_id: str, force: bool) -> None:
        locked = self._deployments_of(app_id)
        if locked and not force:
            raise Conflict(f"App is locked by one or more deployments. Override with the option '?force=true'. "
                           "View details at '/v2/deployments/<DEPLOYMENT_ID>'.", locked)

    # --- helpers --------------------------------------------------------------------------

    def _assign_service_ports(self, definition: dict, previous: dict | None) -> None:
        """Port 0 asks for a service port: Marathon's 10000-20000, unique over the apps."""
        kept = [d["port"] for d in (previous or {}).get("portDefinitions") or []]
        used = {p for a in self.apps.values() if a.id != definition["id"]
                for p in a.definition.get("ports") or ()}
        candidate = 10000
        for i, d in enumerate(definition["portDefinitions"]):
            if d["port"]:
                continue
            if i < len(kept) and kept[i] and kept[i] not in used:
                d["port"] = kept[i]
            else:
                while candidate in used and candidate < 20000:
                    candidate += 1
                d["port"] = candidate
            used.add(d["port"])
        definition["ports"] = [d["port"] for d in definition["portDefinitions"]]

    def _stamp(self, definition: dict, previous: dict | None) -> dict:
        """Give a new definition its version and versionInfo (a scale keeps lastConfigChangeAt)."""
        self._assign_service_ports(definition, previous)
        version = self._new_version()
        if previous is not None and deploying.config_equal(previous, definition):
            info = dict(previous["versionInfo"], lastScalingAt=version)
        else:
            info = {"lastScalingAt": version, "lastConfigChangeAt": version}
        definition["version"] = version
        definition["versionInfo"] = info
        return info

    def _new_version(self) -> str:
        now = max(self.now(), self._last_version + 0.001)
        self._last_version = now
        return iso(now)

    def _save_app(self, record: AppRecord, *, new_version: bool) -> None:
        d = record.definition
        if new_version:
            record.versions.append(d["version"])
            self.version_store.setdefault(d["id"], {})[d["version"]] = d
            self.store.put(f"ver:{d['id']}@{d['version']}", d)
            while len(record.versions) > MAX_VERSIONS:
                gone = record.versions.pop(0)
                self.version_store.get(d["id"], {}).pop(gone, None)
                self.store.delete(f"ver:{d['id']}@{gone}")
        self.store.put(f"app:{d['id']}", {"definition": d, "versions": record.versions})

    def kill_tasks(self, pairs: list[tuple[AppRecord, TaskRecord]], *, scale: bool = False,
                   force: bool = False) -> tuple[list[TaskRecord], Deployment | None]:
        """Kill these tasks: replaced as usual, or (`scale`) the app shrinks by as many."""
        by_app: dict[str, int] = {}
        for app, task in pairs:
            if not task.killing:
                by_app[app.id] = by_app.get(app.id, 0) + 1
            self.kill_task(app, task)
        deployment = None
        if scale:
            for app_id, n in by_app.items():
                app = self.apps[app_id]
                _, deployment, _ = self.put_app({"instances": max(0, app.definition["instances"] - n)},
                                                app_id=app_id, force=True)
        self.wake()
        return [t for _, t in pairs], deployment

    def tasks_by_id(self, task_ids: Iterable[str]) -> list[tuple[AppRecord, TaskRecord]]:
        out = []
        for task_id in task_ids:
            app_id = self.task_app.get(task_id)
            app = self.apps.get(app_id) if app_id else None
            if app is not None and task_id in app.tasks:
                out.append((app, app.tasks[task_id]))
        return out
