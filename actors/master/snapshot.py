"""An immutable picture of the master's state, for readers on other threads (the HTTP API).

The master counts its changes (`changed()`, once per handled message); a reader asks for
`latest()`. The picture is rebuilt on the master's own thread — between two bursts of
messages, as a pykka call — only when something changed since the last one, at most once
every `interval` seconds, and no sooner than its cost (building plus rendering) allows
within `budget`; in between, readers share the last one. Nothing is built
while nobody reads, and no reader ever walks the live registries.

>>> from actors.runtime import MemoryTransport, VirtualClock
>>> from actors.master import Master, MasterConfig
>>> ref = Master.start(MemoryTransport(VirtualClock()), MasterConfig(master_id="m1"))
>>> snap = ref.proxy().snapshots.get().latest()
>>> snap.leader["id"], snap.agents, snap.metrics["master/elected"]
('m1', (), 1.0)
>>> _ = ref.stop()

Everything a Snapshot holds is immutable or freshly built for it (Resources and TaskStatus
are frozen), so it can be read from any thread without locks.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from functools import cached_property
from time import monotonic
from typing import TYPE_CHECKING, Any, Callable, Iterable

from messages import MachineId, MaintenanceWindow, Resources, TaskState, TaskStatus

if TYPE_CHECKING:
    from actors.master.actor import Master
    from actors.master.feed import TaskFeed


@dataclass(frozen=True)
class TaskView:
    framework_id: str
    task_id: str
    name: str
    agent_id: str
    executor_id: str
    resources: Resources
    role: str
    state: TaskState
    statuses: tuple[TaskStatus, ...]
    created_at: float
    updated_at: float
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AgentView:
    agent_id: str
    hostname: str
    port: int
    attributes: tuple[tuple[str, str], ...]
    total: Resources
    reservations: Resources  # dynamic ones
    reachable: bool
    version: str
    registered_at: float
    reregistered_at: float | None
    unreachable_at: float | None
    executors: tuple[tuple[str, str, Resources], ...]  # (framework_id, executor_id, resources)
    deactivated: bool = False  # by the operator (DEACTIVATE_AGENT, DRAIN_AGENT)


@dataclass(frozen=True)
class FrameworkView:
    framework_id: str
    name: str
    user: str
    principal: str
    hostname: str
    roles: tuple[str, ...]
    capabilities: tuple[str, ...]
    failover_timeout: float
    checkpoint: bool
    active: bool
    connected: bool
    recovered: bool
    registered_at: float
    reregistered_at: float | None
    disconnected_at: float | None


@dataclass(frozen=True)
class OfferView:
    offer_id: str
    framework_id: str
    agent_id: str
    hostname: str
    role: str
    resources: Resources
    created_at: float


@dataclass(frozen=True)
class Snapshot:
    """What the master knew at `taken_at` (its clock); `version` counts its changes."""

    version: int
    taken_at: float
    start_time: float
    leader: dict[str, Any]  # id, hostname, version, address
    flags: dict[str, str]
    agents: tuple[AgentView, ...] = ()
    frameworks: tuple[FrameworkView, ...] = ()
    completed_frameworks: tuple[dict, ...] = ()
    tasks: tuple[TaskView, ...] = ()  # live
    completed_tasks: tuple[TaskView, ...] = ()
    offers: tuple[OfferView, ...] = ()
    counters: dict[str, float] = field(default_factory=dict)  # the master's own counters
    finished_counts: dict[str, int] = field(default_factory=dict)  # terminal state -> tasks ever
    weights: dict[str, float] = field(default_factory=dict)
    quota: dict[str, Resources] = field(default_factory=dict)
    schedule: tuple[MaintenanceWindow, ...] = ()  # the maintenance schedule
    down_machines: tuple[MachineId, ...] = ()
    built_in: float = 0.0  # seconds the master's thread spent building it
    feed_seq: int = 0  # the last task change (feed.py) this picture shows

    def all_tasks(self) -> tuple[TaskView, ...]:
        return self.tasks + self.completed_tasks

    # Sums are worked out by the first reader that needs them (not on the master's thread),
    # once per snapshot.

    def agent_used(self, agent_id: str) -> Resources:
        return self._sums[0].get(agent_id, _NONE)

    def agent_offered(self, agent_id: str) -> Resources:
        return self._sums[1].get(agent_id, _NONE)

    def framework_used(self, framework_id: str) -> Resources:
        return self._sums[2].get(framework_id, _NONE)

    def framework_offered(self, framework_id: str) -> Resources:
        return self._sums[3].get(framework_id, _NONE)

    @cached_property
    def _sums(self) -> tuple[dict[str, Resources], ...]:
        reachable = {a.agent_id for a in self.agents if a.reachable}
        by_agent: dict[str, list[Resources]] = {}
        by_framework: dict[str, list[Resources]] = {}
        for t in self.tasks:
            by_agent.setdefault(t.agent_id, []).append(t.resources)
            if t.agent_id in reachable:
                by_framework.setdefault(t.framework_id, []).append(t.resources)
        for a in self.agents:
            for framework_id, _executor_id, resources in a.executors:
                by_agent.setdefault(a.agent_id, []).append(resources)
                if a.reachable:
                    by_framework.setdefault(framework_id, []).append(resources)
        offered_agent: dict[str, list[Resources]] = {}
        offered_framework: dict[str, list[Resources]] = {}
        for o in self.offers:
            offered_agent.setdefault(o.agent_id, []).append(o.resources)
            offered_framework.setdefault(o.framework_id, []).append(o.resources)
        return tuple({k: fast_sum(v) for k, v in d.items()}
                     for d in (by_agent, offered_agent, by_framework, offered_framework))

    @cached_property
    def metrics(self) -> dict[str, float]:
        """Mesos' metric names (as actors/master/state.py's `metrics`), from this picture."""
        out: dict[str, float] = {"master/uptime_secs": max(self.taken_at - self.start_time, 0.0), "master/elected": 1.0}
        live: dict[str, int] = {}
        for t in self.tasks:
            live[t.state.value] = live.get(t.state.value, 0) + 1
        for state in TaskState:
            count = self.finished_counts.get(state.value, 0) if state.is_terminal else live.get(state.value, 0)
            out[f"master/tasks_{state.value[len('TASK_'):].lower()}"] = float(count)
        reachable = [a for a in self.agents if a.reachable]
        out["master/slaves_active"] = out["master/slaves_connected"] = float(len(reachable))
        out["master/slaves_disconnected"] = out["master/slaves_unreachable"] = float(len(self.agents) - len(reachable))
        connected = sum(1 for f in self.frameworks if f.connected)
        out["master/frameworks_active"] = out["master/frameworks_connected"] = float(connected)
        out["master/frameworks_inactive"] = out["master/frameworks_disconnected"] = float(len(self.frameworks) - connected)
        out["master/outstanding_offers"] = float(len(self.offers))
        total = fast_sum(a.total for a in reachable)
        used = fast_sum(self.agent_used(a.agent_id) for a in reachable)
        for name in ("cpus", "mem", "disk", "gpus"):
            t, u = total.scalar(name), used.scalar(name)
            out[f"master/{name}_total"], out[f"master/{name}_used"] = t, u
            out[f"master/{name}_percent"] = u / t if t else 0.0
        out.update(self.counters)
        return out


_NONE = Resources()


def fast_sum(parts: Iterable[Resources]) -> Resources:
    """The sum of many Resources: scalars added as integers, other kinds through `+`."""
    scalars: dict[tuple[str, str], int] = {}
    rest = Resources()
    for r in parts:
        for name, role, value in r.items():
            if isinstance(value, int):
                scalars[(name, role)] = scalars.get((name, role), 0) + value
            else:
                rest = rest + Resources({(name, role): value})
    return Resources(scalars) + rest if rest else Resources(scalars)


class SnapshotPublisher:
    """Owned by the master: `changed()` and `refresh()` on its thread, `latest()` anywhere.

    `request` runs `refresh` on the master's thread and returns its result (a pykka call);
    without one (the actor not started yet, or a unit test), `latest()` builds in place.
    """

    def __init__(self, build: Callable[[int], Snapshot] | None = None, interval: float = 1.0,
                 budget: float = 0.02, feed: "TaskFeed | None" = None) -> None:
        self.build = build  # set by the master that owns it (it may be made before the master)
        self.feed = feed  # every task change between pictures, for SUBSCRIBE streams (set by the master too)
        self.interval = interval
        # The share of the process' time that building and rendering pictures may take: a
        # picture that cost 40 ms (built here, rendered by readers, see `charge`) is not
        # replaced before 1 s at budget 0.04, however often it is read.
        self.budget = budget
        self._spent = 0.0  # seconds the current picture cost so far
        self.request: Callable[[float], Snapshot | None] | None = None
        self._version = 0
        self._current: Snapshot | None = None
        self._built_at = -1e9  # monotonic
        self._lock = threading.Lock()  # one reader asks the master at a time

    def attach(self, actor_ref: Any) -> None:
        """Ask this actor (with a `publish_snapshot()` method) for fresh pictures."""
        import pykka

        proxy = actor_ref.proxy()

        def request(timeout: float) -> Snapshot | None:
            try:
                return proxy.publish_snapshot().get(timeout=timeout)
            except (pykka.ActorDeadError, pykka.Timeout):
                return None

        self.request = request

    def expire(self) -> None:
        """The next reader gets a fresh picture, however young this one (read-your-writes)."""
        self._built_at = -1e9

    def charge(self, snap: Snapshot, seconds: float) -> None:
        """A reader spent `seconds` rendering `snap` (counts against the budget)."""
        if snap is self._current:
            self._spent += seconds

    def _young(self) -> bool:
        return monotonic() - self._built_at < max(self.interval, self._spent / self.budget)

    def changed(self) -> None:
        self._version += 1

    def refresh(self) -> Snapshot:
        """On the master's thread: rebuild if something changed and the last one is old."""
        current = self._current
        if current is not None and (current.version == self._version or self._young()):
            return current
        started = monotonic()
        version = self._version
        snap = self.build(version)
        self._built_at = monotonic()
        snap = dataclasses.replace(snap, built_in=self._built_at - started)
        self._spent = snap.built_in
        self._current = snap
        return snap

    def latest(self, timeout: float = 2.0) -> Snapshot:
        """From any thread: the newest picture, rebuilt first when due (see the class)."""
        current = self._current
        if current is not None and (current.version == self._version or self._young()):
            return current
        if self.request is None:
            return self.refresh()
        with self._lock:
            current = self._current
            if current is not None and self._young():
                return current  # another reader just had it rebuilt
            fresh = self.request(timeout)
        if fresh is not None:
            return fresh
        if current is None:
            raise TimeoutError("the master did not publish its state in time")
        return current  # the master is busy: the last picture, a little old


def build_snapshot(m: "Master", version: int, cache: dict | None = None) -> Snapshot:
    """Copy what the HTTP API shows out of the master's registries (its thread only).

    Only references to immutable values are taken (sums and metrics are left to the
    readers); a task's view is reused from `cache` while the task has not changed, so a
    snapshot of 10,000 tasks of which a few changed costs little more than a loop."""
    info = m.master_info
    old = cache if cache is not None else {}
    views: dict = {}

    def task(t) -> TaskView:
        stamp = (t.state, t.updated_at, len(t.statuses), t.agent_id)
        hit = old.get(t.key)
        if hit is not None and hit[0] == stamp:
            views[t.key] = hit
            return hit[1]
        view = task_view(t)
        views[t.key] = (stamp, view)
        return view

    live = tuple(task(t) for t in m.tasks.live())
    completed = tuple(task(t) for t in m.tasks.recent_completed(m.config.max_completed_tasks_per_framework))
    if cache is not None:
        cache.clear()
        cache.update(views)
    counters = {k: float(v) for k, v in m.metrics.items()}
    counters["master/messages_received"] = float(m.counters["received"])
    counters["master/messages_dead_lettered"] = float(m.counters["dead_lettered"])
    return Snapshot(
        version=version,
        taken_at=m.now(),
        start_time=m.start_time,
        leader={"id": info.master_id, "hostname": info.hostname, "version": info.version, "address": m.address},
        flags={k: _flag(v) for k, v in dataclasses.asdict(m.config).items()},
        agents=tuple(
            AgentView(a.id, a.info.hostname, a.info.port, tuple(sorted(a.info.attributes.items())), a.total,
                      a.reservations, a.reachable, a.version, a.registered_at, a.reregistered_at, a.unreachable_at,
                      tuple((e.framework_id, e.executor_id, e.resources) for e in a.executors.values()),
                      a.id in m.operator.inactive)
            for a in m.agents.all()
        ),
        frameworks=tuple(
            FrameworkView(f.id, f.info.name, f.info.user, f.info.principal, f.info.hostname, tuple(f.info.roles),
                          tuple(f.info.capabilities), f.info.failover_timeout, f.info.checkpoint, f.active,
                          f.connected, f.recovered, f.registered_at, f.reregistered_at, f.disconnected_at)
            for f in m.frameworks.all()
        ),
        completed_frameworks=tuple(dict(f) for f in m.frameworks.removed()),
        tasks=live,
        completed_tasks=completed,
        offers=tuple(OfferView(r.offer.offer_id, r.offer.framework_id, r.offer.agent_id, r.offer.hostname,
                               r.offer.role, r.offer.resources, r.created_at) for r in m.offers.records()),
        counters=counters,
        finished_counts=dict(m.tasks.finished_counts),
        weights=dict(m.operator.weights),
        quota=dict(m.operator.quotas),
        schedule=m.registry.state.schedule,
        down_machines=tuple(m.registry.state.down),
        feed_seq=m.tasks.feed.seq if m.tasks.feed is not None else 0,
    )


def task_view(t) -> TaskView:
    """A task record as readers on other threads may hold it (immutable)."""
    return TaskView(t.framework_id, t.task_id, t.name, t.agent_id, t.executor_id, t.resources, t.role, t.state,
                    tuple(t.statuses), t.created_at, t.updated_at, tuple(t.labels.items()))


def _flag(value: object) -> str:
    # Mesos' /flags shows every value as text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
