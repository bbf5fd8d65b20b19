"""Checks on what the master asks an agent to run; each returns a problem text or None.

>>> from messages import CommandInfo, FrameworkInfo, Resources, RunTask, TaskInfo
>>> fw = FrameworkInfo(user="u", name="fw", framework_id="f1")
>>> task = TaskInfo("t1", "t", "a1", Resources.parse("cpus:64"), command=CommandInfo("true"))
>>> run_task_problem(RunTask(fw, task), "a1", Resources.parse("cpus:4;mem:1024"))
'task t1 needs cpus:64, more than this agent has (cpus:4;mem:1024)'
"""

from __future__ import annotations

from messages import Resources, RunTask
from messages.ids import COMMAND_EXECUTOR_ID, address_id_problem, id_problem


def run_task_problem(msg: RunTask, agent_id: str, total: Resources) -> str | None:
    framework, task = msg.framework, msg.task
    problem = address_id_problem("framework id", framework.framework_id) or id_problem("task id", task.task_id)
    if problem:
        return problem
    if task.agent_id and task.agent_id != agent_id:
        return f"task {task.task_id} is for agent {task.agent_id}, not this agent ({agent_id})"
    if task.resources.is_empty():
        return f"task {task.task_id} has no resources"
    problem = task.problem()
    if problem:
        return f"task {task.task_id}: {problem}"
    if task.kill_grace_period is not None and not task.kill_grace_period >= 0:
        return f"task {task.task_id}: kill_grace_period must not be negative"
    needed = task.resources
    if task.executor is not None:
        executor = task.executor
        problem = address_id_problem("executor id", executor.executor_id, last=True)
        if problem:
            return problem
        if executor.executor_id == COMMAND_EXECUTOR_ID:
            return f"executor id {COMMAND_EXECUTOR_ID!r} is reserved for the built-in command executor"
        if executor.framework_id and executor.framework_id != framework.framework_id:
            return (
                f"executor {executor.executor_id} belongs to framework {executor.framework_id}, "
                f"not {framework.framework_id}"
            )
        needed = needed + executor.resources
    # Reservations are made by the master: compare amounts, whatever their roles.
    if not needed.flatten() <= total.flatten():
        return f"task {task.task_id} needs {needed}, more than this agent has ({total})"
    return None
