"""Re-admitting an agent that had an id: after its restart, a lost connection, being
marked unreachable, or this master's own restart. The agent's report of what it runs is
merged with what the master knows, then the allocator is told the agent's total and
what is already in use on it.

- a task the master has on the agent but the agent does not report: TASK_LOST
  (TASK_GONE for partition-aware frameworks), reason REASON_AGENT_RESTARTED; except a
  task launched less than `ping_interval` ago and still staging, whose RunTask may have
  crossed the report (an agent retries its re-registration until answered);
- a reported task of a removed framework: killed, and the framework shut down there;
- a reported task the master had marked TASK_LOST when the agent became unreachable
  (frameworks that are not partition-aware): killed (protocol.md, as Mesos does);
- a reported task of a framework this master never saw (it restarted): recorded, and the
  framework is recovered from the agent's report until its scheduler re-registers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from actors.master.agents import AgentRecord, ExecutorRecord, agent_info_problem
from actors.master.ports import Component, Ports
from actors.master.tasks import TaskRecord
from messages import (
    AgentAdded,
    AgentInfo,
    AgentRegistered,
    AgentRemoved,
    AgentReregistered,
    AllocationEntry,
    ExecutorInfo,
    FrameworkInfo,
    KillTask,
    Resources,
    ShutdownAgent,
    ShutdownFramework,
    StatusReason,
    Task,
    TaskState,
)
from messages.addresses import agent_address
from messages.ids import COMMAND_EXECUTOR_ID, address_id_problem, id_problem

if TYPE_CHECKING:
    from actors.master.agents import Agents
    from actors.master.frameworks import Frameworks
    from actors.master.offers import OfferBook
    from actors.master.tasks import Tasks
    from actors.master.updates import Updates

log = logging.getLogger(__name__)


def task_problem(task: Task, agent_id: str) -> str | None:
    """Why a task in a ReregisterAgent cannot be taken, or None."""
    for what, value in (("task_id", task.task_id), ("framework_id", task.framework_id)):
        problem = id_problem(what, value)
        if problem:
            return problem
    if task.agent_id and task.agent_id != agent_id:
        return f"task {task.task_id!r} names agent {task.agent_id!r}"
    return None


class Readmission(Component):
    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)

    def connect(
        self, *, frameworks: "Frameworks", tasks: "Tasks", agents: "Agents", updates: "Updates", offers: "OfferBook",
    ) -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.frameworks = frameworks
        self.tasks = tasks
        self.agents = agents
        self.updates = updates
        self.offers = offers

    def reregister(
        self,
        info: AgentInfo,
        version: str,
        tasks: tuple[Task, ...],
        executors: tuple[ExecutorInfo, ...],
        frameworks: tuple[FrameworkInfo, ...],
    ) -> None:
        """ReregisterAgent; answers the sender."""
        problem = agent_info_problem(info) or self.agents.admission_problem(info)
        if problem:
            self.metrics["master/slave_registrations_refused"] += 1
            self.io.reply(ShutdownAgent(f"invalid agent: {problem}"))
            return
        self.readmit(info, version, tasks, executors, frameworks, registered=False)

    def readmit(
        self,
        info: AgentInfo,
        version: str,
        tasks: tuple[Task, ...],
        executors: tuple[ExecutorInfo, ...],
        frameworks: tuple[FrameworkInfo, ...],
        *,
        registered: bool,
    ) -> None:
        aid = info.agent_id
        record = self.agents.get(aid)
        if record is not None and record.reachable and self._unchanged(record, info, version, tasks, executors):
            # A retry whose answer crossed it (or was lost): as Mesos, answer again and
            # keep everything (offers, the allocator's view): cheap in a busy second.
            self.agents.start_pinging(record)
            record.reregistered_at = self.io.now()
            answer = AgentRegistered if registered else AgentReregistered
            self.io.reply(answer(aid, self.config.ping_interval, self.config.max_missed_pings))
            self.metrics["master/slave_reregistrations_unchanged"] += 1
            return
        if record is not None and record.reachable:
            # It thought it lost us: start it over in the allocator from its report.
            self.offers.rescind_on_agent(aid)
            self.io.send(self.config.allocator_address, AgentRemoved(aid))
            self.agents.stop_pinging(record)
        elif record is None:
            record = self.agents.add_record(info, version)
        record.apply_info(info)
        record.version = version
        record.reachable = True
        record.unreachable_at = None
        record.reregistered_at = self.io.now()

        reported: dict[tuple[str, str], Task] = {}
        for task in tasks:
            problem = task_problem(task, aid)
            if problem:
                log.warning("master: agent %s reported a bad task: %s", aid, problem)
                self.metrics["master/invalid_reregistered_tasks"] += 1
                continue
            reported[(task.framework_id, task.task_id)] = task
        infos = {f.framework_id: f for f in frameworks if f.framework_id}
        shutdown: dict[str, None] = {}

        self._forget_missing(record, reported)
        for task in reported.values():
            self._take_task(record, task, infos, shutdown)
        self._take_executors(record, executors, infos, shutdown)
        record.lost_tasks.clear()
        for framework_id in shutdown:
            self.io.send(agent_address(aid), ShutdownFramework(framework_id))

        self.io.send(
            self.config.allocator_address,
            AgentAdded(aid, record.total, info.hostname, dict(info.attributes), self.used_entries(record)),
        )
        self.agents.start_pinging(record)
        answer = AgentRegistered if registered else AgentReregistered
        self.io.reply(answer(aid, self.config.ping_interval, self.config.max_missed_pings))
        self.metrics["master/slave_registrations" if registered else "master/slave_reregistrations"] += 1
        log.info("master: agent %s (%s) re-admitted with %d task(s)", aid, info.hostname, len(reported))

    def _unchanged(
        self, record: AgentRecord, info: AgentInfo, version: str, tasks: tuple[Task, ...],
        executors: tuple[ExecutorInfo, ...],
    ) -> bool:
        """The agent reports what this master already has for it: the same info, its
        live tasks in the same states, the same executors (anything else: re-admit)."""
        if record.info != info or record.version != version or record.lost_tasks:
            return False
        live = {t.key: t.state for t in self.tasks.on_agent(record.id)}
        running = {(t.framework_id, t.task_id): t.state for t in tasks if not t.state.is_terminal}
        if live != running or len(running) != sum(1 for t in tasks if not t.state.is_terminal):
            return False
        return {(e.framework_id, e.executor_id) for e in executors} == set(record.executors)

    def _forget_missing(self, record: AgentRecord, reported: dict) -> None:
        for task in self.tasks.on_agent(record.id):
            if task.key in reported:
                continue
            if task.state is TaskState.TASK_STAGING and self.io.now() - task.created_at < self.config.ping_interval:
                continue  # just launched: its RunTask may cross this report (a retried one)
            pa = self.frameworks.partition_aware(task.framework_id)
            state = TaskState.TASK_GONE if pa else TaskState.TASK_LOST
            self.updates.transition(
                task,
                state,
                StatusReason.REASON_AGENT_RESTARTED,
                "the agent re-registered without this task",
            )

    def _take_task(self, record: AgentRecord, task: Task, infos: dict, shutdown: dict) -> None:
        fid = task.framework_id
        if self.frameworks.is_removed(fid):
            self.io.send(agent_address(record.id), KillTask(fid, task.task_id, record.id))
            shutdown[fid] = None
            return
        if task.state.is_terminal:
            return  # over on the agent too; only its status update is still on its way
        live = self.tasks.get(fid, task.task_id)
        if live is not None:
            if live.agent_id != record.id:
                self.tasks.move(live, record.id)
            if live.state != task.state:
                self.tasks.restate(live, task.state, self.io.now())  # e.g. TASK_UNREACHABLE -> TASK_RUNNING
            if live.kill_requested:  # asked while the agent was away (or the kill was lost)
                self.io.send(agent_address(record.id), KillTask(fid, task.task_id, record.id))
            return
        if self.frameworks.get(fid) is None:
            self.frameworks.recover(fid, infos.get(fid), [task.role])
        live = self.tasks.add(
            TaskRecord(
                framework_id=fid,
                task_id=task.task_id,
                name=task.name,
                agent_id=record.id,
                executor_id=task.executor_id or COMMAND_EXECUTOR_ID,
                resources=task.resources,
                role=task.role,
                state=task.state,
                created_at=self.io.now(),
                updated_at=self.io.now(),
            )
        )
        if task_key(task) in record.lost_tasks:
            # Its framework was told TASK_LOST: the task must not come back to life.
            live.kill_requested = True
            self.io.send(agent_address(record.id), KillTask(fid, task.task_id, record.id))
            self.metrics["master/tasks_killed_after_reregistration"] += 1

    def _take_executors(
        self, record: AgentRecord, executors: tuple[ExecutorInfo, ...], infos: dict, shutdown: dict
    ) -> None:
        record.executors.clear()
        roles = {(t.framework_id, t.executor_id): t.role for t in self.tasks.on_agent(record.id)}
        for ex in executors:
            fid = ex.framework_id
            if address_id_problem("framework_id", fid) or address_id_problem("executor_id", ex.executor_id, last=True):
                self.metrics["master/invalid_reregistered_executors"] += 1
                continue
            if self.frameworks.is_removed(fid):
                shutdown[fid] = None
                continue
            role = roles.get((fid, ex.executor_id), "*")
            if self.frameworks.get(fid) is None:
                self.frameworks.recover(fid, infos.get(fid), [role])
            info = None if ex.executor_id == COMMAND_EXECUTOR_ID else ex
            record.executors[(fid, ex.executor_id)] = ExecutorRecord(fid, ex.executor_id, info, ex.resources, role)
        for (fid, eid) in roles:  # executors of live tasks the agent did not list
            if (fid, eid) not in record.executors:
                record.executors[(fid, eid)] = ExecutorRecord(fid, eid, None, Resources(), roles[(fid, eid)])

    def used_entries(self, record: AgentRecord) -> tuple[AllocationEntry, ...]:
        """What is in use on the agent, per (framework, role): live tasks and executors."""
        used: dict[tuple[str, str], Resources] = {}
        for task in self.tasks.on_agent(record.id):
            key = (task.framework_id, task.role)
            used[key] = used.get(key, Resources()) + task.resources
        for ex in record.executors.values():
            if not ex.resources.is_empty():
                key = (ex.framework_id, ex.role)
                used[key] = used.get(key, Resources()) + ex.resources
        return tuple(AllocationEntry(f, record.id, r, res) for (f, r), res in used.items())


def task_key(task: Task) -> tuple[str, str]:
    return (task.framework_id, task.task_id)
