"""Checks on what the master asks an agent to run; each returns a problem text or None.

>>> from messages import CommandInfo, FrameworkInfo, Resources, RunTask, TaskInfo
>>> fw = FrameworkInfo(user="u", name="fw", framework_id="f1")
>>> task = TaskInfo("t1", "t", "a1", Resources.parse("cpus:64"), command=CommandInfo("true"))
>>> run_task_problem(RunTask(fw, task), "a1", Resources.parse("cpus:4;mem:1024"))
'task t1 needs cpus:64, more than this agent has (cpus:4;mem:1024)'
"""

from __future__ import annotations

from messages import ContainerType, Resources, RunTask, TaskInfo
from messages.addresses import executor_address_problem
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
    executor_id = task.executor.executor_id if task.executor is not None else COMMAND_EXECUTOR_ID
    problem = executor_address_problem(agent_id, framework.framework_id, executor_id)
    if problem:
        return f"task {task.task_id}: {problem}"
    # Reservations are made by the master: compare amounts, whatever their roles.
    if not needed.flatten() <= total.flatten():
        return f"task {task.task_id} needs {needed}, more than this agent has ({total})"
    return None


def container_problem(task: TaskInfo, hostname: str) -> str | None:
    """Why this agent cannot run the task's container, or None. mesobus agents have Mesos'
    `mesos` containerizer without image support: a MESOS container with no image is a
    plain process; a DOCKER container, or any image, cannot run here (TASK_FAILED).

    >>> from messages import CommandInfo, ContainerInfo, Resources
    >>> task = TaskInfo("t1", "t", "a1", Resources.parse("cpus:1"), command=CommandInfo("true"),
    ...                 container=ContainerInfo(ContainerType.DOCKER, image="nginx"))
    >>> container_problem(task, "h1")
    "agent h1 has no docker containerizer: it cannot run task t1's DOCKER container (image 'nginx'); it runs tasks as plain processes (a MESOS container without an image, or none)"
    """
    container = task.container
    if container is None or (container.type is ContainerType.MESOS and not container.image):
        return None
    image = f" (image {container.image[:200]!r})" if container.image else ""
    if container.type is ContainerType.DOCKER:
        why = f"agent {hostname} has no docker containerizer: it cannot run task {task.task_id}'s DOCKER container"
    else:
        why = f"agent {hostname} cannot provision container images: it cannot run task {task.task_id}'s MESOS container"
    return f"{why}{image}; it runs tasks as plain processes (a MESOS container without an image, or none)"
