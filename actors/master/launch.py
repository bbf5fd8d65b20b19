"""Accept: validate the offers, then run its operations (LAUNCH, RESERVE, UNRESERVE) in
order against what remains of the offers (protocol.md, "Accept and launch validation").

Checked in this order; the first failure decides:
1. every offer id is outstanding and this framework's; 2. one agent, one role. Else every
   named valid offer is recovered without filter and each task gets TASK_DROPPED
   (partition-aware) / TASK_LOST, reason REASON_INVALID_OFFERS.
3. per task: id (valid, unique among live tasks and in the accept), agent, resources
   (non-empty, within what remains), command xor executor, executor consistency. Else
   TASK_ERROR / REASON_TASK_INVALID naming the problem; nothing is consumed.
Whatever is left is recovered with the accept's filters.

RESERVE/UNRESERVE (dynamic reservations) convert part of what remains of the offers:
the allocator is told (`AllocationUpdated`, which also changes the agent's total there),
the master's record of the agent changes the same way, and later operations of the same
accept see the converted resources. An invalid RESERVE/UNRESERVE is skipped and counted
(`master/invalid_operations`): the v0 protocol has no answer for it, and FrameworkError
would stop the scheduler. Reservations are written to the registry before they take
effect (a new leader gives them back to the agent's record); the agent is not told (no
CheckpointResources; see docs/master.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from actors.master.agents import AgentRecord, ExecutorRecord
from actors.master.common import master_update
from actors.master.frameworks import FrameworkRecord
from actors.master.ports import Component, Ports
from actors.master.tasks import TaskRecord
from actors.security import reservers
from messages import (
    Accept,
    AllocationUpdated,
    ExecutorInfo,
    Offer,
    Operation,
    OperationType,
    Resources,
    RunTask,
    StatusReason,
    TaskInfo,
    TaskState,
)
from messages.addresses import agent_address, executor_address_problem, framework_address
from messages.ids import COMMAND_EXECUTOR_ID, address_id_problem, id_problem
from messages.registry import ReservationsSet

if TYPE_CHECKING:
    from actors.master.agents import Agents
    from actors.master.offers import OfferBook
    from actors.master.tasks import Tasks

log = logging.getLogger(__name__)


def offers_problem(framework_id: str, offer_ids: tuple[str, ...], lookup) -> tuple[str | None, list[Offer]]:
    """(the first problem or None, the named offers that are outstanding and this framework's)."""
    valid: list[Offer] = []
    problem = None if offer_ids else "the accept names no offers"
    seen: dict[str, None] = {}
    for offer_id in offer_ids:
        offer = lookup(offer_id)
        if offer_id in seen:
            problem = problem or f"offer {offer_id!r} is named twice"
            continue
        seen[offer_id] = None
        if offer is None:
            problem = problem or f"offer {offer_id!r} is not outstanding (unknown, used, rescinded or timed out)"
        elif offer.framework_id != framework_id:
            problem = problem or f"offer {offer_id!r} belongs to another framework"
        else:
            valid.append(offer)
    if problem is None:
        agents = list(dict.fromkeys(o.agent_id for o in valid))
        roles = list(dict.fromkeys(o.role for o in valid))
        if len(agents) > 1:
            problem = f"the offers are on more than one agent ({', '.join(agents)})"
        elif len(roles) > 1:
            problem = f"the offers are for more than one role ({', '.join(roles)})"
    return problem, valid


@dataclass
class _Accepting:
    """What one accept has done so far."""

    agent: AgentRecord
    role: str
    remaining: Resources
    task_ids: dict[str, None] = field(default_factory=dict)


class Launcher(Component):
    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)

    def connect(self, *, offers: "OfferBook", tasks: "Tasks", agents: "Agents") -> None:
        """The components it works with (wired by the Master once all exist)."""
        self.offers = offers
        self.tasks = tasks
        self.agents = agents

    def accept(self, framework: FrameworkRecord, msg: Accept) -> None:
        tasks = [t for op in msg.operations if op.type is OperationType.LAUNCH for t in op.tasks]
        problem, offers = offers_problem(framework.id, msg.offer_ids, self.offers.get)
        if problem:
            self._invalid_offers(framework, offers, tasks, problem)
            return
        for offer in offers:
            self.offers.take(offer.offer_id)
        agent = self.agents.get(offers[0].agent_id)
        offered = Resources()
        for offer in offers:
            offered = offered + offer.resources
        if agent is None or not agent.reachable:  # cannot happen: its offers are rescinded
            self._invalid_offers(framework, [], tasks, "the offers' agent is gone")
            return
        state = _Accepting(agent, offers[0].role, offered)
        for op in msg.operations:
            if op.type is OperationType.LAUNCH:
                for task in op.tasks:
                    self._launch(framework, state, task)
            else:
                self._convert(framework, state, op)
        self.offers.recover(framework.id, agent.id, state.role, state.remaining, msg.filters.refuse_seconds)
        self.metrics["master/offers_accepted"] += len(offers)

    def _invalid_offers(self, framework: FrameworkRecord, offers: list[Offer], tasks: list[TaskInfo], why: str) -> None:
        log.warning("master: framework %s: invalid accept: %s", framework.id, why)
        self.metrics["master/invalid_accepts"] += 1
        for offer in offers:
            if self.offers.take(offer.offer_id) is not None:
                self.offers.recover(offer.framework_id, offer.agent_id, offer.role, offer.resources)
        state = TaskState.TASK_DROPPED if framework.info.partition_aware else TaskState.TASK_LOST
        for task in tasks:
            self._tell(framework, task.task_id, task.agent_id, state, StatusReason.REASON_INVALID_OFFERS, why)

    def _tell(self, framework, task_id, agent_id, state, reason, message) -> None:
        update = master_update(framework.id, task_id, state, reason, message, self.io.now(), agent_id=agent_id)
        self.io.send(framework_address(framework.id), update)

    # --- LAUNCH -----------------------------------------------------------------------

    def _launch(self, framework: FrameworkRecord, acc: _Accepting, task: TaskInfo) -> None:
        executor_id, launch_executor, executor_cost, problem = self._executor_of(framework, acc, task)
        problem = self.task_problem(framework, acc, task, executor_cost) or problem
        acc.task_ids.setdefault(task.task_id, None)
        if problem:
            self.metrics["master/tasks_invalid"] += 1
            self._tell(framework, task.task_id, acc.agent.id, TaskState.TASK_ERROR, StatusReason.REASON_TASK_INVALID, problem)
            return
        need = task.resources + executor_cost
        acc.remaining = acc.remaining - need
        if launch_executor:
            info = task.executor  # None for the command executor
            acc.agent.executors[(framework.id, executor_id)] = ExecutorRecord(
                framework.id, executor_id, info, executor_cost, acc.role
            )
        now = self.io.now()
        self.tasks.add(
            TaskRecord(
                framework_id=framework.id,
                task_id=task.task_id,
                name=task.name,
                agent_id=acc.agent.id,
                executor_id=executor_id,
                resources=task.resources,
                role=acc.role,
                created_at=now,
                updated_at=now,
                labels=dict(task.labels),
            )
        )
        self.io.send(agent_address(acc.agent.id), RunTask(framework.info, task, launch_executor))
        self.metrics["master/tasks_launched"] += 1

    def task_problem(
        self, framework: FrameworkRecord, acc: _Accepting, task: TaskInfo, executor_cost: Resources
    ) -> str | None:
        """The first thing wrong with one task of an accept, or None (protocol order)."""
        problem = id_problem("task id", task.task_id)
        if problem:
            return problem
        if task.task_id in acc.task_ids:
            return f"task id {task.task_id!r} appears more than once in this accept"
        if self.tasks.get(framework.id, task.task_id) is not None:
            return f"task id {task.task_id!r} is already used by a live task of this framework"
        if task.agent_id != acc.agent.id:
            return f"task agent_id {task.agent_id!r} is not the offers' agent {acc.agent.id!r}"
        if task.resources.is_empty():
            return "task resources are empty"
        need = task.resources + executor_cost
        if not need <= acc.remaining:
            what = "task resources" if executor_cost.is_empty() else "task and new executor resources"
            return f"{what} {need} are not contained in what remains of the offers ({acc.remaining or 'nothing'})"
        problem = task.problem()
        if problem:
            return problem
        if task.kill_grace_period is not None and not task.kill_grace_period >= 0:
            return f"kill_grace_period {task.kill_grace_period!r} must be >= 0"
        return None

    def _executor_of(
        self, framework: FrameworkRecord, acc: _Accepting, task: TaskInfo
    ) -> tuple[str, bool, Resources, str | None]:
        """(executor id, whether to launch it, its resources if new, problem or None)."""
        if task.executor is None:
            known = (framework.id, COMMAND_EXECUTOR_ID) in acc.agent.executors
            problem = executor_address_problem(acc.agent.id, framework.id, COMMAND_EXECUTOR_ID)
            return COMMAND_EXECUTOR_ID, not known and problem is None, Resources(), problem
        ex = task.executor
        problem = (address_id_problem("executor id", ex.executor_id, last=True)
                   or executor_address_problem(acc.agent.id, framework.id, ex.executor_id))
        if problem:
            return ex.executor_id, False, Resources(), problem
        if ex.executor_id == COMMAND_EXECUTOR_ID:
            return ex.executor_id, False, Resources(), f"executor id {COMMAND_EXECUTOR_ID!r} is reserved for the command executor"
        if ex.framework_id and ex.framework_id != framework.id:
            return ex.executor_id, False, Resources(), f"executor framework_id {ex.framework_id!r} is not this framework"
        running = acc.agent.executors.get((framework.id, ex.executor_id))
        if running is None:
            return ex.executor_id, True, ex.resources, None
        if running.info is not None and not _same_executor(running.info, ex, framework.id):
            return ex.executor_id, False, Resources(), (
                f"executor {ex.executor_id!r} already runs on agent {acc.agent.id!r} with a different ExecutorInfo"
            )
        return ex.executor_id, False, Resources(), None

    # --- RESERVE / UNRESERVE ----------------------------------------------------------

    def _convert(self, framework: FrameworkRecord, acc: _Accepting, op: Operation) -> None:
        problem = self.conversion_problem(framework, acc, op)
        if problem:
            log.warning("master: framework %s: %s skipped: %s", framework.id, op.type.value, problem)
            self.metrics["master/invalid_operations"] += 1
            return
        reserved = op.resources
        unreserved = reserved.flatten()
        if op.type is OperationType.RESERVE:
            take, give = unreserved, reserved
            reservations = acc.agent.reservations + reserved
        else:
            take, give = reserved, unreserved
            reservations = acc.agent.reservations - reserved
        known = self.registry.state.reservers.get(acc.agent.id, {})
        now_reservers = reservers.after(reservations, known, framework.info.principal,
                                        reserved if op.type is OperationType.RESERVE else Resources())
        # written before it takes effect
        self.registry.write(ReservationsSet(acc.agent.id, reservations, reservers=now_reservers))
        acc.agent.reservations = reservations
        acc.remaining = acc.remaining - take + give
        acc.agent.convert(take, give)
        self.io.send(self.config.allocator_address, AllocationUpdated(framework.id, acc.agent.id, acc.role, take, give))
        self.metrics[f"master/operations_{op.type.value.lower()}"] += 1
        log.info("master: framework %s: %s %s on agent %s", framework.id, op.type.value, reserved, acc.agent.id)

    def conversion_problem(self, framework: FrameworkRecord, acc: _Accepting, op: Operation) -> str | None:
        res = op.resources
        if res.is_empty():
            return "no resources named"
        if acc.role == "*":
            return "the offers are for role '*', which cannot hold reservations"
        if res.reserved(acc.role) != res:
            return f"resources {res} must all be reserved for the offers' role {acc.role!r}"
        if op.type is OperationType.RESERVE:
            if not res.flatten() <= acc.remaining.unreserved():
                return f"{res.flatten()} is not available unreserved in what remains of the offers ({acc.remaining})"
            return None
        if not res <= acc.remaining:
            return f"{res} is not in what remains of the offers ({acc.remaining})"
        if not res <= acc.agent.reservations:
            return f"{res} is not a dynamic reservation (static ones cannot be unreserved)"
        return None


def _same_executor(running: ExecutorInfo, wanted: ExecutorInfo, framework_id: str) -> bool:
    return replace(running, framework_id=framework_id) == replace(wanted, framework_id=framework_id)
