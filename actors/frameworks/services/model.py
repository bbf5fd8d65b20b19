"""What the services framework keeps track of: tasks, apps (with their versions and
launch backoff) and deployments. Plain records; core.py changes them."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_UNUSED_OFFERS = 10  # per app, shown in /v2/queue
MAX_VERSIONS = 50  # per app, kept and listed in /v2/apps/{id}/versions

LIVE_STATES = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE")


@dataclass
class TaskRecord:
    id: str
    app_id: str
    version: str  # the app's version when it was launched
    config_version: str  # the app's lastConfigChangeAt then: tasks of an older one are replaced
    agent_id: str
    host: str
    ports: list[int]
    staged_at: float
    state: str = "TASK_STAGING"
    started_at: float | None = None
    killing: bool = False  # killed by us: its end is not a failure
    health: dict[str, Any] | None = None  # healthCheckResults[0] as Marathon shows it
    service_ports: list[int] = field(default_factory=list)
    unreachable_since: float | None = None  # when the master said TASK_UNREACHABLE (None: reachable)
    inactive: bool = False  # unreachable past unreachableStrategy.inactiveAfterSeconds: replaced
    ready_pending: bool = False  # its app has readinessChecks and it has not passed them yet
    readiness: dict[str, Any] | None = None  # the last readiness check result (readinessCheckResults)

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> "TaskRecord":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def running(self) -> bool:
        return self.state == "TASK_RUNNING"


@dataclass
class LaunchDelay:
    failures: int = 0
    until: float = 0.0  # no launch before this time

    def delay_for(self, app: dict[str, Any]) -> float:
        if self.failures == 0 or not app["backoffSeconds"]:
            return 0.0
        try:
            seconds = app["backoffSeconds"] * app["backoffFactor"] ** (self.failures - 1)
        except OverflowError:  # 1.15 ** 5,100 failures, or a large factor far sooner: past any cap
            return app["maxLaunchDelaySeconds"]
        return min(seconds, app["maxLaunchDelaySeconds"])


@dataclass
class AppRecord:
    definition: dict[str, Any]
    versions: list[str] = field(default_factory=list)  # oldest first
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    delay: LaunchDelay = field(default_factory=LaunchDelay)
    last_failure: dict[str, Any] | None = None
    unused_offers: deque = field(default_factory=lambda: deque(maxlen=MAX_UNUSED_OFFERS))
    offer_summary: dict[str, int] = field(default_factory=dict)  # reason -> count
    waiting_since: float | None = None  # since when instances wait for offers
    # task ids launched and still acting against the app's counts, by outcome
    staged: int = 0

    @property
    def id(self) -> str:
        return self.definition["id"]

    @property
    def config_version(self) -> str:
        return self.definition["versionInfo"]["lastConfigChangeAt"]

    def live(self) -> list[TaskRecord]:
        """The tasks that count as instances: not being killed, not unreachable for too long."""
        return [t for t in self.tasks.values() if not t.killing and not t.inactive]

    def readiness_results(self) -> list[dict[str, Any]]:
        """readinessCheckResults: the last result of each task of the current configuration."""
        return [t.readiness for t in self.tasks.values()
                if t.readiness is not None and t.config_version == self.config_version]

    def ready(self, task: TaskRecord) -> bool:
        """Counts toward the healthy floor: running and reachable, past its readiness checks,
        and healthy if the app checks health."""
        if not task.running or task.killing or task.unreachable_since is not None:
            return False
        if task.ready_pending and self.definition.get("readinessChecks"):
            return False
        if self.definition.get("healthChecks"):
            return bool(task.health and task.health.get("alive"))
        return True


@dataclass
class Deployment:
    id: str
    version: str
    affected_apps: list[str]
    steps: list[list[dict[str, str]]]  # each step: [{"action": ..., "app": ...}]
    current_step: int = 1
    started_at: float = 0.0
    targets: dict[str, Any] = field(default_factory=dict)  # app id -> definition (None: stop)
    originals: dict[str, Any] = field(default_factory=dict)  # app id -> definition before (None: new)

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> "Deployment":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def current_actions(self) -> list[dict[str, str]]:
        if 1 <= self.current_step <= len(self.steps):
            return self.steps[self.current_step - 1]
        return []
