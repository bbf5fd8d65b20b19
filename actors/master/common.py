"""Small helpers the master's parts share: role checks, master-made statuses. (Addresses
and id rules are the protocol's: messages/addresses.py, messages/ids.py.)

>>> role_problem("web") is None, role_problem("-x")
(True, "role '-x' must not start with '-'")
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
from messages.ids import id_problem


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
