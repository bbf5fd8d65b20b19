"""Task traffic through the master: status updates (agent -> framework) and their
acknowledgements (framework -> agent), kills, executor exits and the opaque
framework <-> executor messages.

The master keeps each task's latest state from the updates it relays. When a task's
latest state is terminal, its resources go back to the allocator (no filter). An update
for a framework the master does not know (removed, or never seen) is acknowledged to the
agent by the master itself, so the agent's update stream is not stuck on it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from actors.master.common import master_update
from actors.master.ports import Component, Ports
from actors.master.tasks import TaskRecord
from messages import (
    ExecutorToFramework,
    ExitedExecutor,
    FrameworkToExecutor,
    KillTask,
    StatusReason,
    StatusSource,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskState,
    TaskStatus,
)
from messages.addresses import agent_address, framework_address

if TYPE_CHECKING:
    from actors.master.agents import Agents
    from actors.master.frameworks import Frameworks
    from actors.master.offers import OfferBook
    from actors.master.tasks import Tasks

log = logging.getLogger(__name__)

_STATES = {s.value: s for s in TaskState}


class Updates(Component):
    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)

    def connect(self, *, agents: "Agents", tasks: "Tasks", frameworks: "Frameworks", offers: "OfferBook") -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.agents = agents
        self.tasks = tasks
        self.frameworks = frameworks
        self.offers = offers

    # --- agent -> master -> framework ---------------------------------------------------

    def status_update(self, msg: StatusUpdate) -> None:
        agent = self.agents.get(msg.agent_id)
        if agent is None or not agent.reachable:
            self.metrics["master/invalid_status_updates"] += 1
            self.agents.not_known(msg.agent_id)
            return
        if self.frameworks.get(msg.framework_id) is None:
            # Nobody will acknowledge it: do it here so the agent moves on.
            self.metrics["master/invalid_status_updates"] += 1
            if msg.uuid:
                ack = StatusUpdateAcknowledgement(msg.agent_id, msg.framework_id, msg.status.task_id, msg.uuid)
                self.io.send(agent_address(msg.agent_id), ack)
            return
        latest = _STATES.get(msg.latest_state, msg.status.state)
        task = self.tasks.get(msg.framework_id, msg.status.task_id)
        if task is not None:
            if latest.is_terminal:
                self.tasks.finish(task, latest, self.io.now(), msg.status)
                self.offers.recover(task.framework_id, task.agent_id, task.role, task.resources)
            else:
                self.tasks.update(task, msg.status, latest, self.io.now())
        self.metrics["master/valid_status_updates"] += 1
        self.metrics[f"master/task_updates_{msg.status.state.value.lower()}"] += 1
        self.io.send(framework_address(msg.framework_id), msg)

    def acknowledge(self, msg: StatusUpdateAcknowledgement) -> None:
        """Framework -> master -> agent."""
        if not msg.uuid:
            return  # master-made updates carry no uuid and need no acknowledgement
        agent = self.agents.get(msg.agent_id)
        if agent is None or not agent.reachable:
            self.metrics["master/dropped_acknowledgements"] += 1
            log.info("master: dropping an acknowledgement for agent %s: not reachable", msg.agent_id)
            return
        self.io.send(agent_address(msg.agent_id), msg)

    # --- master-made transitions ------------------------------------------------------

    def status_for(self, task: TaskRecord, state: TaskState, reason: StatusReason, message: str) -> TaskStatus:
        return TaskStatus(
            task_id=task.task_id,
            state=state,
            message=message,
            source=StatusSource.SOURCE_MASTER,
            reason=reason,
            agent_id=task.agent_id,
            executor_id=task.executor_id,
            timestamp=self.io.now(),
        )

    def transition(self, task: TaskRecord, state: TaskState, reason: StatusReason, message: str) -> None:
        """The master changes a task's state itself (agent lost, gone) and tells its
        framework. Resources are not recovered: every caller removes or re-adds the
        agent in the allocator, which settles them."""
        status = self.status_for(task, state, reason, message)
        if state.is_terminal:
            self.tasks.finish(task, state, self.io.now(), status)
        else:
            self.tasks.update(task, status, state, self.io.now())
        if self.frameworks.get(task.framework_id) is not None:
            self.io.send(framework_address(task.framework_id), self._update(task, state, reason, message))

    def _update(self, task: TaskRecord, state: TaskState, reason: StatusReason, message: str) -> StatusUpdate:
        return master_update(
            task.framework_id,
            task.task_id,
            state,
            reason,
            message,
            self.io.now(),
            agent_id=task.agent_id,
            executor_id=task.executor_id,
        )

    # --- kills ------------------------------------------------------------------------

    def kill(self, msg: KillTask) -> None:
        """KillTask from a framework: to the task's agent, or answered here."""
        framework = self.frameworks.get(msg.framework_id)
        pa = framework is not None and framework.info.partition_aware
        task = self.tasks.find(msg.framework_id, msg.task_id)
        if task is None:
            state = TaskState.TASK_UNKNOWN if pa else TaskState.TASK_LOST
            update = master_update(
                msg.framework_id,
                msg.task_id,
                state,
                StatusReason.REASON_TASK_UNKNOWN,
                "cannot kill: the master does not know this task",
                self.io.now(),
                agent_id=msg.agent_id,
            )
            self.io.send(framework_address(msg.framework_id), update)
            self.metrics["master/kills_of_unknown_tasks"] += 1
            return
        agent = self.agents.get(task.agent_id)
        if task.state.is_terminal or agent is None or not agent.reachable:
            # Over already, or its agent is unreachable: say what the master knows. The
            # kill is remembered and done if the agent comes back (see readmit.py).
            task.kill_requested = not task.state.is_terminal
            reason = StatusReason.REASON_RECONCILIATION
            self.io.send(framework_address(msg.framework_id), self._update(task, task.state, reason, "cannot kill now"))
            return
        task.kill_requested = True
        self.io.send(agent_address(task.agent_id), KillTask(msg.framework_id, msg.task_id, task.agent_id, msg.grace_period))

    # --- executors --------------------------------------------------------------------

    def executor_exited(self, msg: ExitedExecutor) -> None:
        agent = self.agents.get(msg.agent_id)
        if agent is None or not agent.reachable:
            self.agents.not_known(msg.agent_id)
            return
        executor = agent.executors.pop((msg.framework_id, msg.executor_id), None)
        if executor is not None and self.frameworks.get(msg.framework_id) is not None:
            self.offers.recover(msg.framework_id, msg.agent_id, executor.role, executor.resources)
        if self.frameworks.get(msg.framework_id) is not None:
            self.io.send(framework_address(msg.framework_id), msg)

    def to_executor(self, msg: FrameworkToExecutor) -> None:
        agent = self.agents.get(msg.agent_id)
        if agent is None or not agent.reachable:
            self.metrics["master/dropped_framework_messages"] += 1
            log.info("master: dropping a message for executor %s: agent %s not reachable", msg.executor_id, msg.agent_id)
            return
        self.io.send(agent_address(msg.agent_id), msg)

    def to_framework(self, msg: ExecutorToFramework) -> None:
        if self.frameworks.get(msg.framework_id) is None:
            self.metrics["master/dropped_framework_messages"] += 1
            return
        self.io.send(framework_address(msg.framework_id), msg)
