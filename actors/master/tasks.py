"""The master's task records: every live task by framework and by agent, with the latest
state it knows, and a bounded memory of finished ones (for reconciliation and state).

>>> from messages import Resources
>>> tasks = Tasks(max_completed=10)
>>> t = tasks.add(TaskRecord("f1", "t1", "web", "a1", "mesobus-command",
...                          Resources.parse("cpus:1"), "*", created_at=0.0))
>>> [r.task_id for r in tasks.on_agent("a1")], tasks.live_count()
(['t1'], 1)
>>> tasks.finish(t, TaskState.TASK_FINISHED, now=1.0); tasks.live_count(), tasks.find("f1", "t1").state
(0, <TaskState.TASK_FINISHED: 'TASK_FINISHED'>)

Dicts stand in for sets everywhere: their order is deterministic, which replay needs.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from messages import Resources, Task, TaskState, TaskStatus

if TYPE_CHECKING:
    from actors.master.feed import TaskFeed

Key = tuple[str, str]  # (framework_id, task_id)


@dataclass
class TaskRecord:
    framework_id: str
    task_id: str
    name: str
    agent_id: str
    executor_id: str
    resources: Resources
    role: str
    state: TaskState = TaskState.TASK_STAGING
    status: TaskStatus | None = None  # the latest status the master has seen
    kill_requested: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    statuses: list[TaskStatus] = field(default_factory=list)  # the history /master/state shows

    @property
    def key(self) -> Key:
        return (self.framework_id, self.task_id)

    def to_task(self) -> Task:
        return Task(
            task_id=self.task_id,
            name=self.name,
            framework_id=self.framework_id,
            agent_id=self.agent_id,
            executor_id=self.executor_id,
            resources=self.resources,
            state=self.state,
            role=self.role,
        )

    def as_dict(self) -> dict:
        status = self.status
        return {
            "id": self.task_id,
            "name": self.name,
            "framework_id": self.framework_id,
            "agent_id": self.agent_id,
            "executor_id": self.executor_id,
            "resources": str(self.resources),
            "role": self.role,
            "state": self.state.value,
            "message": status.message if status else "",
            "reason": status.reason.value if status else "",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "labels": dict(self.labels),
        }


class Tasks:
    """Live tasks indexed three ways, plus the last `max_completed` finished ones.
    Every change goes through the methods below and is noted in `feed` (feed.py)."""

    def __init__(self, max_completed: int = 10000, feed: "TaskFeed | None" = None) -> None:
        self.max_completed = max_completed
        self.feed = feed
        self._live: dict[Key, TaskRecord] = {}
        self._by_agent: dict[str, dict[Key, None]] = {}
        self._by_framework: dict[str, dict[Key, None]] = {}
        self._completed: OrderedDict[Key, TaskRecord] = OrderedDict()
        self.finished_counts: Counter[str] = Counter()  # terminal state -> how many ever

    # --- changes ----------------------------------------------------------------------

    def add(self, record: TaskRecord) -> TaskRecord:
        key = record.key
        self._completed.pop(key, None)
        old = self._live.get(key)
        if old is not None:
            self._unindex(old)
        self._live[key] = record
        self._by_agent.setdefault(record.agent_id, {})[key] = None
        self._by_framework.setdefault(record.framework_id, {})[key] = None
        self._note("added", record)
        return record

    def update(self, record: TaskRecord, status: TaskStatus, state: TaskState, now: float) -> None:
        """Record a new non-terminal state (terminal ones go through `finish`)."""
        record.status = status
        record.state = state
        record.updated_at = now
        _remember(record, status)
        self._note("updated", record)

    def restate(self, record: TaskRecord, state: TaskState, now: float) -> None:
        """An agent re-registered with the task in another state than the master's
        (e.g. TASK_UNREACHABLE -> TASK_RUNNING): its word, without a status update."""
        record.state = state
        record.updated_at = now
        self._note("updated", record)

    def finish(
        self, record: TaskRecord, state: TaskState, now: float, status: TaskStatus | None = None
    ) -> None:
        """The task is over: move it to the completed ones."""
        record.state = state
        record.updated_at = now
        if status is not None:
            record.status = status
            _remember(record, status)
        if self._live.get(record.key) is record:
            del self._live[record.key]
            self._unindex(record)
        self._completed[record.key] = record
        self._completed.move_to_end(record.key)
        while len(self._completed) > self.max_completed:
            self._completed.popitem(last=False)
        self.finished_counts[state.value] += 1
        self._note("updated", record)

    def move(self, record: TaskRecord, agent_id: str) -> None:
        """An agent re-registered with a task the master had on another agent."""
        self._unindex(record)
        record.agent_id = agent_id
        self._by_agent.setdefault(agent_id, {})[record.key] = None
        self._by_framework.setdefault(record.framework_id, {})[record.key] = None
        self._note("updated", record)

    def forget_completed_of(self, framework_id: str) -> None:
        for key in [k for k in self._completed if k[0] == framework_id]:
            del self._completed[key]

    def _note(self, kind: str, record: TaskRecord) -> None:
        if self.feed is not None:
            self.feed.note(kind, record)

    def _unindex(self, record: TaskRecord) -> None:
        key = record.key
        for index, name in ((self._by_agent, record.agent_id), (self._by_framework, record.framework_id)):
            keys = index.get(name)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del index[name]

    # --- queries ----------------------------------------------------------------------

    def get(self, framework_id: str, task_id: str) -> TaskRecord | None:
        """The live task, or None."""
        return self._live.get((framework_id, task_id))

    def completed(self, framework_id: str, task_id: str) -> TaskRecord | None:
        return self._completed.get((framework_id, task_id))

    def find(self, framework_id: str, task_id: str) -> TaskRecord | None:
        """The live task, else the finished one if still remembered."""
        key = (framework_id, task_id)
        return self._live.get(key) or self._completed.get(key)

    def on_agent(self, agent_id: str) -> list[TaskRecord]:
        return [self._live[k] for k in self._by_agent.get(agent_id, ())]

    def of_framework(self, framework_id: str) -> list[TaskRecord]:
        return [self._live[k] for k in self._by_framework.get(framework_id, ())]

    def live(self) -> Iterator[TaskRecord]:
        return iter(list(self._live.values()))

    def completed_tasks(self) -> Iterator[TaskRecord]:
        return iter(list(self._completed.values()))

    def recent_completed(self, per_framework: int) -> list[TaskRecord]:
        """The newest `per_framework` finished tasks of each framework, oldest first: what
        the operator API shows (Mesos' --max_completed_tasks_per_framework), while all
        `max_completed` are remembered for reconciliation."""
        counts: dict[str, int] = {}
        out = []
        for (framework_id, _), record in reversed(self._completed.items()):
            seen = counts.get(framework_id, 0)
            if seen < per_framework:
                counts[framework_id] = seen + 1
                out.append(record)
        out.reverse()
        return out

    def live_count(self) -> int:
        return len(self._live)

    def count_by_state(self) -> Counter[str]:
        return Counter(r.state.value for r in self._live.values())


MAX_STATUSES = 32  # per task: enough for any real history, bounded for a flapping one


def _remember(record: TaskRecord, status: TaskStatus) -> None:
    if len(record.statuses) < MAX_STATUSES and (not record.statuses or record.statuses[-1] != status):
        record.statuses.append(status)
