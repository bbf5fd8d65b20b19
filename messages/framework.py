"""Messages between a framework's scheduler and the master (and the executor, via both)."""

from __future__ import annotations

from dataclasses import dataclass, field

from messages.catalogue import message
from messages.values import (
    Filters,
    FrameworkInfo,
    MasterInfo,
    Offer,
    Operation,
    TaskRef,
    TaskStatus,
)


# scheduler -> master: register a new framework (framework_id empty) or subscribe again.
@message
@dataclass(frozen=True)
class RegisterFramework:
    framework: FrameworkInfo


# scheduler -> master: re-register with the id it was given, after a failover or reconnect.
@message
@dataclass(frozen=True)
class ReregisterFramework:
    framework: FrameworkInfo
    failover: bool = True


# master -> scheduler: registration accepted; here is the framework's id.
@message
@dataclass(frozen=True)
class FrameworkRegistered:
    framework_id: str
    master: MasterInfo


# master -> scheduler: re-registration accepted.
@message
@dataclass(frozen=True)
class FrameworkReregistered:
    framework_id: str
    master: MasterInfo


# scheduler -> master: the framework is done; kill its tasks and forget it (teardown).
@message
@dataclass(frozen=True)
class UnregisterFramework:
    framework_id: str


# scheduler -> master: the scheduler is going away but will fail over; keep its tasks.
@message
@dataclass(frozen=True)
class DeactivateFramework:
    framework_id: str


# master -> scheduler: resources it may use.
@message
@dataclass(frozen=True)
class ResourceOffers:
    offers: tuple[Offer, ...]


# scheduler -> master: use these offers (all on one agent, one role) for these operations;
# whatever the operations leave unused is declined with `filters`.
@message
@dataclass(frozen=True)
class Accept:
    framework_id: str
    offer_ids: tuple[str, ...]
    operations: tuple[Operation, ...] = ()
    filters: Filters = field(default_factory=Filters)


# scheduler -> master: not interested in these offers for `filters.refuse_seconds`.
@message
@dataclass(frozen=True)
class Decline:
    framework_id: str
    offer_ids: tuple[str, ...]
    filters: Filters = field(default_factory=Filters)


# scheduler -> master: clear filters and resume offers for these roles (empty = all).
@message
@dataclass(frozen=True)
class Revive:
    framework_id: str
    roles: tuple[str, ...] = ()


# scheduler -> master: stop offers for these roles (empty = all) until revived.
@message
@dataclass(frozen=True)
class Suppress:
    framework_id: str
    roles: tuple[str, ...] = ()


# master -> scheduler: this offer is no longer valid (its agent left, or it timed out).
@message
@dataclass(frozen=True)
class RescindResourceOffer:
    offer_id: str


# scheduler -> master -> agent -> executor: kill this task.
@message
@dataclass(frozen=True)
class KillTask:
    framework_id: str
    task_id: str
    agent_id: str = ""
    grace_period: float | None = None


# scheduler -> master: what is the state of these tasks (empty = all non-terminal ones)?
@message
@dataclass(frozen=True)
class ReconcileTasks:
    framework_id: str
    tasks: tuple[TaskRef, ...] = ()


# scheduler -> master -> agent -> executor: opaque data for the executor.
@message
@dataclass(frozen=True)
class FrameworkToExecutor:
    framework_id: str
    executor_id: str
    agent_id: str
    data: bytes


# executor -> agent -> master -> scheduler: opaque data for the scheduler.
@message
@dataclass(frozen=True)
class ExecutorToFramework:
    framework_id: str
    executor_id: str
    agent_id: str
    data: bytes


# master -> scheduler: an agent is gone (removed or unreachable).
@message
@dataclass(frozen=True)
class LostAgent:
    agent_id: str


# master -> scheduler: something the framework did is wrong, or it was removed.
@message
@dataclass(frozen=True)
class FrameworkError:
    message: str


# agent -> master -> scheduler: an executor exited.
@message
@dataclass(frozen=True)
class ExitedExecutor:
    framework_id: str
    executor_id: str
    agent_id: str
    status: int


# executor -> agent -> master -> scheduler, and each hop: a task's state changed.
# `uuid` identifies the update for its acknowledgement; `latest_state` is the newest state
# the agent knows, which may be ahead of `status` while older updates await acks.
@message
@dataclass(frozen=True)
class StatusUpdate:
    framework_id: str
    executor_id: str
    agent_id: str
    status: TaskStatus
    timestamp: float
    uuid: str
    latest_state: str = ""


# scheduler -> master -> agent, agent -> executor: this status update (by uuid) is handled.
@message
@dataclass(frozen=True)
class StatusUpdateAcknowledgement:
    agent_id: str
    framework_id: str
    task_id: str
    uuid: str



# scheduler -> master: still here (every `heartbeat_interval`); a framework silent for
# `max_missed_heartbeats` intervals is disconnected and its failover timeout starts.
@message
@dataclass(frozen=True)
class FrameworkHeartbeat:
    framework_id: str


# master -> scheduler: the answer to a heartbeat; `known` is false when this master does
# not know the framework (it restarted or failed over), which tells it to re-register.
@message
@dataclass(frozen=True)
class MasterHeartbeat:
    master_id: str
    known: bool = True


# scheduler -> itself: the registration request is still unanswered; send it again
# (`attempt` counts the tries, for the backoff: 2 s doubling to 60 s).
@message
@dataclass(frozen=True)
class SchedulerRegistrationTimer:
    attempt: int


# scheduler -> itself: time to heartbeat the master and check that it still answers.
@message
@dataclass(frozen=True)
class SchedulerHeartbeatTimer:
    pass
