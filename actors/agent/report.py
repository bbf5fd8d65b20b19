"""`Agent.state()`: a plain-data snapshot of an agent for the CLI and HTTP endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.agent.state import ExecutorRecord, TaskRecord

if TYPE_CHECKING:
    from actors.agent.actor import Agent


def agent_state(agent: "Agent") -> dict[str, Any]:
    book = agent.book
    used = book.used()
    return {
        "id": agent.agent_id,
        "address": agent.address,
        "hostname": agent.agent_info.hostname,
        "registered": agent.registered,
        "recovering": agent.recovering,
        "resources": str(agent.agent_info.resources),
        "used_resources": str(used),
        "attributes": dict(agent.agent_info.attributes),
        "work_dir": str(agent.config.work_dir),
        "executor_mode": type(agent.launcher).__name__,
        "frameworks": [
            {"id": fid, "name": info.name, "user": info.user, "roles": list(info.roles)}
            for fid, info in sorted(book.frameworks.items())
        ],
        "executors": [_executor(e, len(book.tasks_of(e))) for e in book.executors.values()],
        "tasks": [_task(agent, t) for t in book.tasks.values()],
        "completed_tasks": [_task(agent, t) for t in book.completed.values()],
        "pending_status_updates": sum(len(s.pending) for s in agent.updates.streams.values()),
        "counters": dict(agent.counters),
    }


def _executor(executor: ExecutorRecord, tasks: int) -> dict[str, Any]:
    return {
        "id": executor.executor_id,
        "framework_id": executor.framework_id,
        "run_id": executor.run_id,
        "phase": executor.phase.value,
        "pid": executor.pid,
        "sandbox": str(executor.sandbox),
        "queued_tasks": [info.task_id for info in executor.queued],
        "tasks": tasks,
    }


def _task(agent: "Agent", task: TaskRecord) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "name": task.info.name,
        "framework_id": task.framework_id,
        "executor_id": task.executor_id,
        "state": task.state.value,
        "resources": str(task.info.resources),
        "role": task.role,
        "sandbox": str(task.sandbox) if task.sandbox else "",
        "unacknowledged_updates": agent.updates.unacknowledged(task.framework_id, task.task_id),
    }
