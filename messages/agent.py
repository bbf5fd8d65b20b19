"""Messages between agents and the master, and between an agent and its executors."""

from __future__ import annotations

from dataclasses import dataclass

from messages.catalogue import message
from messages.values import AgentInfo, ExecutorInfo, FrameworkInfo, Task, TaskInfo

# --- agent <-> master ------------------------------------------------------------------


# agent -> master: a new agent wants to join (agent_id empty).
@message
@dataclass(frozen=True)
class RegisterAgent:
    agent: AgentInfo
    version: str = ""


# agent -> master: an agent that had an id rejoins (restart, reconnect, new leader),
# with what it still runs.
@message
@dataclass(frozen=True)
class ReregisterAgent:
    agent: AgentInfo
    version: str = ""
    tasks: tuple[Task, ...] = ()
    executors: tuple[ExecutorInfo, ...] = ()
    frameworks: tuple[FrameworkInfo, ...] = ()


# master -> agent: welcome; here is your id and how often you will be pinged.
@message
@dataclass(frozen=True)
class AgentRegistered:
    agent_id: str
    ping_interval: float
    max_missed_pings: int


# master -> agent: welcome back.
@message
@dataclass(frozen=True)
class AgentReregistered:
    agent_id: str
    ping_interval: float
    max_missed_pings: int


# master -> agent: are you there? (`connected` is false when the master does not know it)
@message
@dataclass(frozen=True)
class PingAgent:
    connected: bool = True


# agent -> master: yes.
@message
@dataclass(frozen=True)
class PongAgent:
    agent_id: str


# agent -> master: this agent is shutting down cleanly.
@message
@dataclass(frozen=True)
class UnregisterAgent:
    agent_id: str


# master -> agent, agent -> executor: run this task (launching its executor if needed).
@message
@dataclass(frozen=True)
class RunTask:
    framework: FrameworkInfo
    task: TaskInfo
    launch_executor: bool = True


# master -> agent: the framework is gone; kill its executors and tasks.
@message
@dataclass(frozen=True)
class ShutdownFramework:
    framework_id: str


# master -> agent, agent -> executor: stop this executor and its tasks.
@message
@dataclass(frozen=True)
class ShutdownExecutor:
    framework_id: str
    executor_id: str


# master -> agent: you are not (or no longer) part of the cluster; stop.
@message
@dataclass(frozen=True)
class ShutdownAgent:
    message: str


# --- executor <-> agent ----------------------------------------------------------------


# executor -> agent: the executor process is up.
@message
@dataclass(frozen=True)
class RegisterExecutor:
    framework_id: str
    executor_id: str


# executor -> agent: the executor is still here after the agent restarted, with what it
# runs and the status updates it has not seen acknowledged.
@message
@dataclass(frozen=True)
class ReregisterExecutor:
    framework_id: str
    executor_id: str
    tasks: tuple[TaskInfo, ...] = ()
    updates: tuple[bytes, ...] = ()


# agent -> executor: registered; here is who you work for.
@message
@dataclass(frozen=True)
class ExecutorRegistered:
    executor: ExecutorInfo
    framework: FrameworkInfo
    agent: AgentInfo


# agent -> executor: re-registered after an agent restart.
@message
@dataclass(frozen=True)
class ExecutorReregistered:
    agent: AgentInfo


# agent -> executor: the agent restarted; re-register (with unacknowledged updates).
@message
@dataclass(frozen=True)
class ReconnectExecutor:
    agent_id: str


# --- timers and local reports: an agent or executor to its own mailbox -----------------


# agent -> itself (timer): RegisterAgent/ReregisterAgent not answered yet; send it again.
@message
@dataclass(frozen=True)
class RetryAgentRegistration:
    attempt: int


# agent -> itself (timer): no PingAgent for ping_interval * max_missed_pings; re-register.
@message
@dataclass(frozen=True)
class AgentPingTimeout:
    generation: int


# agent -> itself (timer): resend the head of a task's status update stream if unacknowledged.
@message
@dataclass(frozen=True)
class RetryStatusUpdate:
    framework_id: str
    task_id: str
    uuid: str


# agent -> itself (timer): checkpointed executors that did not answer ReconnectExecutor are gone.
@message
@dataclass(frozen=True)
class ExecutorReconnectTimeout:
    generation: int = 0


# agent -> itself (timer): a launched executor did not send RegisterExecutor in time.
@message
@dataclass(frozen=True)
class ExecutorRegistrationTimeout:
    framework_id: str
    executor_id: str
    run_id: str


# agent -> itself (timer): an executor told to shut down has not exited; kill it.
@message
@dataclass(frozen=True)
class ExecutorShutdownTimeout:
    framework_id: str
    executor_id: str
    run_id: str


# agent -> itself (timer): the command executor has had nothing to do; shut it down.
@message
@dataclass(frozen=True)
class ExecutorIdleTimeout:
    framework_id: str
    executor_id: str
    run_id: str
    generation: int


# launcher -> agent (posted to the agent's mailbox by an exit watcher): an executor exited.
@message
@dataclass(frozen=True)
class ExecutorTerminated:
    framework_id: str
    executor_id: str
    run_id: str
    status: int
    message: str = ""


# executor -> itself (timer): RegisterExecutor not answered yet; send it again.
@message
@dataclass(frozen=True)
class RetryExecutorRegistration:
    attempt: int


# command executor -> itself (posted by a process watcher): a task's process exited.
@message
@dataclass(frozen=True)
class TaskProcessExited:
    task_id: str
    returncode: int
    memory_limited: bool = False


# command executor -> itself (posted by a fetcher thread): a task's URIs are in its sandbox
# (`error` empty), or could not be fetched (`error` names the URI and why).
@message
@dataclass(frozen=True)
class TaskFetched:
    task_id: str
    error: str = ""


# command executor -> itself (posted by a launch thread of its process runner): a task's
# process was started (`pid`), or could not be (`error` says why; pid 0).
@message
@dataclass(frozen=True)
class TaskStarted:
    task_id: str
    pid: int = 0
    error: str = ""


# command executor -> itself (timer): a task being killed outlived its grace period; SIGKILL.
@message
@dataclass(frozen=True)
class KillGraceExpired:
    task_id: str


# executor -> itself (timer): nothing to do for a while; exit if that is still so.
@message
@dataclass(frozen=True)
class ExecutorIdleCheck:
    generation: int


# executor -> itself (timer): has its agent been heard from lately? If not, ask it (PingAgent);
# silent for MESOBUS_RECOVERY_TIMEOUT: the agent is gone, end the tasks and exit.
@message
@dataclass(frozen=True)
class AgentSilenceCheck:
    pass
