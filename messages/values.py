"""The value types that messages carry (Mesos' mesos.proto, the parts mesobus uses).

>>> task = TaskInfo(task_id="t1", name="hello", agent_id="a1",
...                 resources=Resources.parse("cpus:0.1;mem:32"),
...                 command=CommandInfo(value="echo hello"))
>>> task.command.shell, TaskState.TASK_FINISHED.is_terminal
(True, True)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from messages.resources import Resources


class TaskState(str, enum.Enum):
    """Every task state of Mesos; `is_terminal` says whether the task is over."""

    TASK_STAGING = "TASK_STAGING"
    TASK_STARTING = "TASK_STARTING"
    TASK_RUNNING = "TASK_RUNNING"
    TASK_KILLING = "TASK_KILLING"
    TASK_FINISHED = "TASK_FINISHED"
    TASK_FAILED = "TASK_FAILED"
    TASK_KILLED = "TASK_KILLED"
    TASK_ERROR = "TASK_ERROR"
    TASK_LOST = "TASK_LOST"
    TASK_DROPPED = "TASK_DROPPED"
    TASK_UNREACHABLE = "TASK_UNREACHABLE"
    TASK_GONE = "TASK_GONE"
    TASK_GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    TASK_UNKNOWN = "TASK_UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset(
    {
        TaskState.TASK_FINISHED,
        TaskState.TASK_FAILED,
        TaskState.TASK_KILLED,
        TaskState.TASK_ERROR,
        TaskState.TASK_LOST,
        TaskState.TASK_DROPPED,
        TaskState.TASK_GONE,
        TaskState.TASK_GONE_BY_OPERATOR,
    }
)


class StatusSource(str, enum.Enum):
    SOURCE_MASTER = "SOURCE_MASTER"
    SOURCE_AGENT = "SOURCE_AGENT"
    SOURCE_EXECUTOR = "SOURCE_EXECUTOR"


class StatusReason(str, enum.Enum):
    """Why a status was sent (a subset of Mesos' TaskStatus.Reason)."""

    REASON_NONE = ""
    REASON_RECONCILIATION = "REASON_RECONCILIATION"
    REASON_AGENT_REMOVED = "REASON_AGENT_REMOVED"
    REASON_AGENT_UNKNOWN = "REASON_AGENT_UNKNOWN"
    REASON_AGENT_RESTARTED = "REASON_AGENT_RESTARTED"
    REASON_COMMAND_EXECUTOR_FAILED = "REASON_COMMAND_EXECUTOR_FAILED"
    REASON_EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"
    REASON_EXECUTOR_UNREGISTERED = "REASON_EXECUTOR_UNREGISTERED"
    REASON_FRAMEWORK_REMOVED = "REASON_FRAMEWORK_REMOVED"
    REASON_TASK_INVALID = "REASON_TASK_INVALID"
    REASON_TASK_UNKNOWN = "REASON_TASK_UNKNOWN"
    REASON_TASK_KILLED_DURING_LAUNCH = "REASON_TASK_KILLED_DURING_LAUNCH"
    REASON_INVALID_OFFERS = "REASON_INVALID_OFFERS"
    REASON_CONTAINER_LIMITATION_MEMORY = "REASON_CONTAINER_LIMITATION_MEMORY"
    REASON_CONTAINER_LAUNCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"
    REASON_RESOURCES_UNKNOWN = "REASON_RESOURCES_UNKNOWN"


@dataclass(frozen=True)
class CommandURI:
    """A file the fetcher puts into the task's sandbox before the command starts (Mesos'
    CommandInfo.URI): `value` is a `file://`, `http://`, `https://` URI or an absolute path;
    `extract` unpacks a recognised archive, `executable` makes it so (and never extracts),
    `cache` keeps a copy in the agent's fetcher cache, `output_file` names it in the sandbox
    (a relative path; default: the URI's last path segment)."""

    value: str
    executable: bool = False
    extract: bool = True
    cache: bool = False
    output_file: str = ""

    def problem(self) -> str | None:
        if not self.value:
            return "a uri needs a value"
        name = self.output_file
        if name and (name.startswith("/") or ".." in name.split("/") or "\0" in name):
            return f"uri {self.value[:200]!r}: output_file {name[:200]!r} must be a relative path inside the sandbox"
        return None


@dataclass(frozen=True)
class CommandInfo:
    """A command to run: through the shell (`value` is a shell line) or as argv, after the
    fetcher has put its `uris` into the sandbox."""

    value: str = ""
    arguments: tuple[str, ...] = ()
    shell: bool = True
    environment: dict[str, str] = field(default_factory=dict)
    user: str = ""
    uris: tuple[CommandURI, ...] = ()

    def problem(self, image_entrypoint: bool = False) -> str | None:
        """What is wrong with this command, if anything (the master and agent answer
        TASK_ERROR with it; decoding accepts it so that the answer can be given).
        `image_entrypoint`: the task's container has an image, whose own entrypoint runs
        when the command (shell=False) names nothing."""
        if self.shell and not self.value:
            return "a shell command needs a value"
        if not self.shell and not (self.value or self.arguments or image_entrypoint):
            return "a command needs a value or arguments"
        for uri in self.uris:
            problem = uri.problem()
            if problem:
                return problem
        return None


class ContainerType(str, enum.Enum):
    """Mesos' ContainerInfo.Type: who runs the task (mesobus agents have MESOS only)."""

    MESOS = "MESOS"
    DOCKER = "DOCKER"


@dataclass(frozen=True)
class ContainerInfo:
    """Mesos' ContainerInfo, the part mesobus reads: the type and the image, if any
    (`docker.image` for DOCKER; `mesos.image` for MESOS, flattened here to `image`). A MESOS
    container without an image is a plain process; anything else needs a containerizer
    that mesobus agents do not have (they fail the task, saying so)."""

    type: ContainerType = ContainerType.MESOS
    image: str = ""


@dataclass(frozen=True)
class ExecutorInfo:
    """A custom executor: a command the agent starts once per (framework, executor_id)."""

    executor_id: str
    command: CommandInfo
    framework_id: str = ""
    name: str = ""
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class TaskInfo:
    """What a framework asks to run: exactly one of `command` (the built-in command
    executor) or `executor` (its own executor)."""

    task_id: str
    name: str
    agent_id: str
    resources: Resources
    command: CommandInfo | None = None
    executor: ExecutorInfo | None = None
    data: bytes = b""
    labels: dict[str, str] = field(default_factory=dict)
    kill_grace_period: float | None = None
    container: ContainerInfo | None = None

    def problem(self) -> str | None:
        """What is wrong with this task's description, if anything."""
        if (self.command is None) == (self.executor is None):
            return "a task needs exactly one of command or executor"
        command = self.command or self.executor.command  # type: ignore[union-attr]
        return command.problem(image_entrypoint=self.container is not None and bool(self.container.image))


@dataclass(frozen=True)
class FrameworkInfo:
    user: str
    name: str
    framework_id: str = ""
    roles: tuple[str, ...] = ("*",)
    principal: str = ""
    failover_timeout: float = 0.0
    checkpoint: bool = False
    capabilities: tuple[str, ...] = ()  # e.g. "PARTITION_AWARE"
    hostname: str = ""

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities


@dataclass(frozen=True)
class AgentInfo:
    hostname: str
    resources: Resources
    attributes: dict[str, str] = field(default_factory=dict)
    agent_id: str = ""
    port: int = 0


@dataclass(frozen=True)
class MasterInfo:
    master_id: str
    hostname: str = ""
    version: str = ""


@dataclass(frozen=True)
class Unavailability:
    """When a machine may be unavailable (Mesos' Unavailability): from `start_ns` (Unix
    time in nanoseconds) for `duration_ns` (None: with no end known)."""

    start_ns: int
    duration_ns: int | None = None


@dataclass(frozen=True)
class MachineId:
    """A machine under maintenance, as Mesos names it: a hostname and/or an IP."""

    hostname: str = ""
    ip: str = ""


@dataclass(frozen=True)
class MaintenanceWindow:
    """Machines that will be unavailable in the same interval (one window of a schedule)."""

    machines: tuple[MachineId, ...]
    unavailability: Unavailability


@dataclass(frozen=True)
class Offer:
    offer_id: str
    framework_id: str
    agent_id: str
    hostname: str
    resources: Resources
    role: str = "*"
    attributes: dict[str, str] = field(default_factory=dict)
    # Set when the agent's machine is scheduled for maintenance (DRAINING).
    unavailability: Unavailability | None = None


@dataclass(frozen=True)
class Filters:
    """How long to not re-offer declined resources (Mesos' default: 5 seconds)."""

    refuse_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not (0 <= self.refuse_seconds < 365 * 24 * 3600):
            raise ValueError(f"refuse_seconds out of range: {self.refuse_seconds}")


@dataclass(frozen=True)
class TaskStatus:
    task_id: str
    state: TaskState
    message: str = ""
    source: StatusSource = StatusSource.SOURCE_EXECUTOR
    reason: StatusReason = StatusReason.REASON_NONE
    agent_id: str = ""
    executor_id: str = ""
    timestamp: float = 0.0
    uuid: str = ""  # empty for statuses that need no acknowledgement (reconciliation)
    data: bytes = b""
    exit_code: int | None = None


@dataclass(frozen=True)
class Task:
    """The master's and agent's record of a launched task (sent on re-registration)."""

    task_id: str
    name: str
    framework_id: str
    agent_id: str
    executor_id: str
    resources: Resources
    state: TaskState = TaskState.TASK_STAGING
    role: str = "*"


@dataclass(frozen=True)
class TaskRef:
    """A task named in an explicit reconciliation."""

    task_id: str
    agent_id: str = ""


class OperationType(str, enum.Enum):
    LAUNCH = "LAUNCH"
    RESERVE = "RESERVE"
    UNRESERVE = "UNRESERVE"


@dataclass(frozen=True)
class Operation:
    """One operation of an Accept: LAUNCH tasks, or RESERVE/UNRESERVE resources."""

    type: OperationType
    tasks: tuple[TaskInfo, ...] = ()
    resources: Resources = field(default_factory=Resources)
