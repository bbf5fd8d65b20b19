"""What the agent keeps track of: frameworks, executors (one record per run) and tasks.

Plain records with no policy; the actor changes them and the checkpoint persists them.

>>> from messages import CommandInfo, ExecutorInfo, FrameworkInfo, Resources, TaskInfo
>>> book = AgentBook()
>>> book.frameworks["f1"] = FrameworkInfo(user="u", name="fw", framework_id="f1")
>>> info = TaskInfo("t1", "hello", "a1", Resources.parse("cpus:1"), command=CommandInfo("true"))
>>> book.tasks[("f1", "t1")] = TaskRecord("f1", "mesobus-command", info)
>>> str(book.used())
'cpus:1'
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from messages import ExecutorInfo, FrameworkInfo, Resources, Task, TaskInfo, TaskState
from messages.addresses import executor_address

ExecutorKey = tuple[str, str]  # (framework_id, executor_id)
TaskKey = tuple[str, str]  # (framework_id, task_id)


class ExecutorPhase(str, enum.Enum):
    LAUNCHING = "LAUNCHING"  # started; RunTasks wait until it registers
    REGISTERED = "REGISTERED"  # RunTasks go straight to it
    RECONNECTING = "RECONNECTING"  # agent recovery: ReconnectExecutor sent, no answer yet
    TERMINATING = "TERMINATING"  # told to shut down (or failed); waiting for its exit


@dataclass
class ExecutorRecord:
    """One run of an executor on this agent."""

    framework_id: str
    info: ExecutorInfo
    run_id: str
    sandbox: Path
    pid: int = 0
    phase: ExecutorPhase = ExecutorPhase.LAUNCHING
    queued: list[TaskInfo] = field(default_factory=list)  # RunTasks awaiting registration
    handle: Any = None  # the launcher's handle (not checkpointed)
    timer: str = ""  # registration / shutdown timer
    idle_generation: int = 0  # bumped on every task; stale idle timers are ignored
    shutdown_requested: bool = False  # by the master/framework: tasks end up KILLED
    agent_id: str = ""  # part of its address

    @property
    def key(self) -> ExecutorKey:
        return (self.framework_id, self.info.executor_id)

    @property
    def executor_id(self) -> str:
        return self.info.executor_id

    @property
    def address(self) -> str:
        return executor_address(self.agent_id, self.framework_id, self.info.executor_id)


@dataclass
class TaskRecord:
    """A task this agent was asked to run, from RunTask until its stream is finished."""

    framework_id: str
    executor_id: str
    info: TaskInfo
    state: TaskState = TaskState.TASK_STAGING
    sandbox: Path | None = None
    role: str = "*"
    kill_requested: bool = False

    @property
    def key(self) -> TaskKey:
        return (self.framework_id, self.info.task_id)

    @property
    def task_id(self) -> str:
        return self.info.task_id

    def as_task(self, agent_id: str) -> Task:
        return Task(
            task_id=self.info.task_id,
            name=self.info.name,
            framework_id=self.framework_id,
            agent_id=agent_id,
            executor_id=self.executor_id,
            resources=self.info.resources,
            state=self.state,
            role=self.role,
        )


class AgentBook:
    """Every framework, executor run and task the agent knows, with lookups."""

    def __init__(self, completed_kept: int = 1000) -> None:
        self.frameworks: dict[str, FrameworkInfo] = {}
        self.executors: dict[ExecutorKey, ExecutorRecord] = {}
        self.tasks: dict[TaskKey, TaskRecord] = {}
        self.completed: OrderedDict[TaskKey, TaskRecord] = OrderedDict()  # oldest first
        self.completed_kept = completed_kept

    def tasks_of(self, executor: ExecutorRecord) -> list[TaskRecord]:
        fid, eid = executor.key
        return [t for t in self.tasks.values() if t.framework_id == fid and t.executor_id == eid]

    def executors_of(self, framework_id: str) -> list[ExecutorRecord]:
        return [e for e in self.executors.values() if e.framework_id == framework_id]

    def live_tasks(self) -> Iterator[TaskRecord]:
        return (t for t in self.tasks.values() if not t.state.is_terminal)

    def used(self) -> Resources:
        """What live tasks and executors hold (terminal tasks no longer count)."""
        total = Resources()
        for task in self.live_tasks():
            total = total + task.info.resources
        for executor in self.executors.values():
            total = total + executor.info.resources
        return total

    def finish(self, task: TaskRecord) -> None:
        """The task's stream is done: keep it only among the completed ones."""
        self.tasks.pop(task.key, None)
        self.completed[task.key] = task
        while len(self.completed) > self.completed_kept:
            self.completed.popitem(last=False)

    def known(self, key: TaskKey) -> bool:
        """Whether the task is running here or recently completed (redelivered launches)."""
        return key in self.tasks or key in self.completed

