"""The operator's writes, shared by the v1 API and the legacy endpoints: each is checked
here (a mistake is a `CallError`, an HTTP 400), sent to the master as a message and
answered once the master says it is done.

>>> parse_weights([{"role": "web", "weight": 2}])
{'web': 2.0}
>>> parse_weights([{"role": "web", "weight": -1}])
Traceback (most recent call last):
...
actors.operator.writes.CallError: weight of 'web': expected a positive number, not -1
"""

from __future__ import annotations

import itertools
import math
import os
import time
from concurrent.futures import Future
from typing import Any

from actors.operator.source import MasterSource
from messages import Envelope, MarkAgentGone, QuotaUpdated, Resources, WeightsUpdated
from messages.addresses import MASTER
from messages.ids import address_id_problem
from messages.operator import AgentMaintenance, OperatorAnswer, TeardownFramework

ANSWER_TIMEOUT = 10.0
_ROLE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")


class CallError(ValueError):
    """A bad operator call (HTTP 400), or one the master refused."""


class Unavailable(RuntimeError):
    """No leading master to carry the call out (HTTP 503)."""


def master_sender(transport: Any, address: str = MASTER):
    """A `send(body, timeout)` for MasterSource.lead: a message to the master and a Future
    for its answer's envelope (through the transport's reply mailbox)."""
    ids, prefix = itertools.count(1), os.urandom(4).hex()

    def send(body: Any, timeout: float) -> "Future[Envelope]":
        envelope = Envelope(id=f"operator.{prefix}.{next(ids)}", sender="operator", target=address, body=body,
                            sent_at=time.time())
        return transport.ask(envelope, timeout)

    return send


def carry_out(source: MasterSource, body: Any) -> None:
    """Send one write to the master and wait for its answer (raises CallError/Unavailable)."""
    send = source.send
    if send is None:
        raise Unavailable("this master is not leading")
    try:
        reply = send(body, ANSWER_TIMEOUT).result(ANSWER_TIMEOUT + 1)
    except (TimeoutError, OSError) as err:
        raise Unavailable(f"the master did not answer: {err}") from None
    answer = reply.body
    if source.publisher is not None:
        source.publisher.expire()  # what the caller reads next shows its write
    if not isinstance(answer, OperatorAnswer):
        raise Unavailable(f"the master answered {type(answer).__name__}")
    if not answer.ok:
        raise CallError(answer.message)


def check_role(role: Any) -> str:
    if not isinstance(role, str) or not role or role in (".", "..") or role.startswith("-") \
            or not set(role) <= _ROLE_CHARS or len(role) > 128:
        raise CallError(f"role: expected a role name, not {role!r}")
    if role == "*":
        raise CallError("role: '*' cannot be given a weight or a quota")
    return role


def parse_weights(items: Any) -> dict[str, float]:
    """[{"role": "web", "weight": 2.0}, ...] (Mesos' WeightInfo list)."""
    if not isinstance(items, list) or not items:
        raise CallError("weight_infos: expected a non-empty list of {role, weight}")
    out: dict[str, float] = {}
    for item in items:
        if not isinstance(item, dict):
            raise CallError(f"weight_infos: expected {{role, weight}}, not {item!r}")
        role = check_role(item.get("role"))
        weight = item.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise CallError(f"weight of {role!r}: expected a positive number, not {weight!r}")
        out[role] = float(weight)
    return out


def parse_quota_config(config: Any) -> tuple[str, Resources]:
    """{"role": "dev", "limits": {"cpus": {"value": 4}}} (Mesos' QuotaConfig; `guarantees`
    are taken as limits too: mesobus has limits only)."""
    if not isinstance(config, dict):
        raise CallError(f"quota_configs: expected {{role, limits}}, not {config!r}")
    role = check_role(config.get("role"))
    amounts: dict[str, float] = {}
    for key in ("guarantees", "limits"):
        given = config.get(key, {})
        if not isinstance(given, dict):
            raise CallError(f"{key} of {role!r}: expected {{name: {{value: N}}}}")
        for name, value in given.items():
            number = value.get("value") if isinstance(value, dict) else value
            if name not in ("cpus", "mem", "disk", "gpus"):
                raise CallError(f"{key} of {role!r}: {name!r} is not a scalar resource (cpus, mem, disk, gpus)")
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) or number < 0:
                raise CallError(f"{key} of {role!r}: {name} must be a number >= 0, not {number!r}")
            amounts[name] = float(number)
    return role, Resources.scalars(**amounts)


def update_weights(source: MasterSource, weights: dict[str, float]) -> None:
    carry_out(source, WeightsUpdated(weights))


def update_quota(source: MasterSource, role: str, limit: Resources) -> None:
    carry_out(source, QuotaUpdated(role, limit))


def teardown(source: MasterSource, framework_id: Any) -> None:
    problem = address_id_problem("framework_id", framework_id) if isinstance(framework_id, str) else "framework_id: expected text"
    if problem is not None:
        raise CallError(problem)
    carry_out(source, TeardownFramework(framework_id))


def maintain(source: MasterSource, agent_id: Any, *, active: bool, drain: bool = False) -> None:
    problem = address_id_problem("agent_id", agent_id) if isinstance(agent_id, str) else "agent_id: expected text"
    if problem is not None:
        raise CallError(problem)
    carry_out(source, AgentMaintenance(agent_id, active, drain))


def mark_gone(source: MasterSource, agent_id: Any) -> None:
    """MARK_AGENT_GONE: written to the registry; its tasks become TASK_GONE_BY_OPERATOR and
    the agent is never admitted again."""
    problem = address_id_problem("agent_id", agent_id) if isinstance(agent_id, str) else "agent_id: expected text"
    if problem is not None:
        raise CallError(problem)
    carry_out(source, MarkAgentGone(agent_id))
