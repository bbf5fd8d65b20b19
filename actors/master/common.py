"""Small helpers the master's parts share: addresses, id checks, master-made statuses.

>>> framework_address("f1"), agent_address("a1")
('framework.f1', 'agent.a1')
>>> id_problem("task id", "../etc")
"task id '../etc' must not contain '/'"
>>> id_problem("task id", "t-1") is None
True
"""

from __future__ import annotations

from typing import Protocol

from messages import (
    StatusReason,
    StatusSource,
    StatusUpdate,
    TaskState,
    TaskStatus,
)

COMMAND_EXECUTOR_ID = "mesobus-command"  # the built-in command executor (protocol.md)
MAX_ID_LENGTH = 200


def framework_address(framework_id: str) -> str:
    return f"framework.{framework_id}"


def agent_address(agent_id: str) -> str:
    return f"agent.{agent_id}"


def id_problem(what: str, value: str) -> str | None:
    """Why `value` cannot be an id (it names mailboxes and sandbox directories), or None."""
    if not value:
        return f"{what} must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"{what} is longer than {MAX_ID_LENGTH} characters"
    if value in (".", ".."):
        return f"{what} {value!r} is not allowed"
    if "/" in value:
        return f"{what} {value!r} must not contain '/'"
    if not value.isprintable() or " " in value:  # other whitespace is not printable
        return f"{what} {value!r} must not contain spaces or control characters"
    return None


def role_problem(role: str) -> str | None:
    """Why `role` is not a valid role name, or None. `*` is the default role."""
    if role == "*":
        return None
    problem = id_problem("role", role)
    if problem:
        return problem
    if role.startswith("-"):
        return f"role {role!r} must not start with '-'"
    bad = set(role) & set("()*;:,[]{}")
    if bad:
        return f"role {role!r} must not contain {''.join(sorted(bad))!r}"
    return None


def master_update(
    framework_id: str,
    task_id: str,
    state: TaskState,
    reason: StatusReason,
    message: str,
    now: float,
    *,
    agent_id: str = "",
    executor_id: str = "",
) -> StatusUpdate:
    """A status update made by the master itself: source master, no uuid (never acked)."""
    status = TaskStatus(
        task_id=task_id,
        state=state,
        message=message,
        source=StatusSource.SOURCE_MASTER,
        reason=reason,
        agent_id=agent_id,
        executor_id=executor_id,
        timestamp=now,
        uuid="",
    )
    return StatusUpdate(
        framework_id=framework_id,
        executor_id=executor_id,
        agent_id=agent_id,
        status=status,
        timestamp=now,
        uuid="",
        latest_state=state.value,
    )


class Port(Protocol):
    """What the master's parts need from the actor: sending, timers, time and ids."""

    def send(self, target: str, body: object) -> object: ...

    def delay(self, seconds: float, body: object) -> str: ...

    def cancel(self, timer_id: str) -> None: ...

    def now(self) -> float: ...

    def new_id(self) -> str: ...
