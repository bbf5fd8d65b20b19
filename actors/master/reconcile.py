"""Task reconciliation: the master's latest knowledge of a framework's tasks, as status
updates with reason REASON_RECONCILIATION and no uuid (they need no acknowledgement).

- explicit (tasks listed): each one's latest state; an unknown task is TASK_LOST, or for
  partition-aware frameworks TASK_UNREACHABLE (its agent is unreachable), TASK_GONE (its
  agent was removed) or TASK_UNKNOWN;
- implicit (empty list): every non-terminal task of the framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.master.common import master_update
from actors.master.tasks import TaskRecord
from messages import ReconcileTasks, StatusReason, StatusUpdate, TaskRef, TaskState

if TYPE_CHECKING:
    from actors.master.agents import Agents
    from actors.master.tasks import Tasks

REASON = StatusReason.REASON_RECONCILIATION


def reconcile(
    msg: ReconcileTasks, partition_aware: bool, tasks: "Tasks", agents: "Agents", now: float
) -> list[StatusUpdate]:
    """The answers to one ReconcileTasks, in order."""
    if not msg.tasks:
        return [_known(task, now) for task in tasks.of_framework(msg.framework_id)]
    answers = []
    for ref in msg.tasks:
        task = tasks.find(msg.framework_id, ref.task_id)
        if task is not None:
            answers.append(_known(task, now))
        else:
            answers.append(_unknown(msg.framework_id, ref, partition_aware, agents, now))
    return answers


def _known(task: TaskRecord, now: float) -> StatusUpdate:
    message = task.status.message if task.status is not None else ""
    return master_update(
        task.framework_id,
        task.task_id,
        task.state,
        REASON,
        message,
        now,
        agent_id=task.agent_id,
        executor_id=task.executor_id,
    )


def _unknown(framework_id: str, ref: TaskRef, partition_aware: bool, agents: "Agents", now: float) -> StatusUpdate:
    agent = agents.get(ref.agent_id) if ref.agent_id else None
    if not partition_aware:
        state = TaskState.TASK_LOST
    elif agent is not None and not agent.reachable:
        state = TaskState.TASK_UNREACHABLE
    elif ref.agent_id and agents.was_removed(ref.agent_id):
        state = TaskState.TASK_GONE
    else:
        state = TaskState.TASK_UNKNOWN
    return master_update(
        framework_id, ref.task_id, state, REASON, "task unknown to the master", now, agent_id=ref.agent_id
    )
