"""What each kind of principal may do on the broker: RabbitMQ's configure / write / read
patterns on resource names, and topic patterns on the `mesobus` exchange's routing keys.

Addresses carry principals (`addresses.py`): principal P's frameworks are
`framework.P-*`, its agents `agent.P-*` and their executors `executor.P-*.*`.

- a framework may declare and consume its own queues (and exclusive reply queues), bind
  them only with its own addresses, and publish to the master and its own executors,
  never to an agent, another framework or the allocator;
- an agent (and its executors, which connect as it) the same for `agent.P-*` and
  `executor.P-*`, publishing to the master, itself and its executors;
- the master (with its allocator and operator tools) may do everything under mesobus.

Only the master's principal may configure (declare, and so delete) the shared exchanges
and the dead-letter queue; the others' processes find them declared (rabbitmq/topology.py).
Every principal may publish to them and publish journal copies (routing key `journal`).
Only the master's may bind from `mesobus.dlx` (read): a queue of one's own bound there
would read every dead letter.

>>> g = framework_grant("alice")
>>> bool(re.fullmatch(g.topic_write, "master")), bool(re.fullmatch(g.topic_write, "agent.alice-1"))
(True, False)
>>> bool(re.fullmatch(g.read, "mesobus.framework.alice-f1")), bool(re.fullmatch(g.read, "mesobus.master"))
(True, False)
>>> bool(re.fullmatch(g.topic_read, "#")), bool(re.fullmatch(g.topic_read, "framework.alice-f1"))
(False, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from messages.addresses import (
    AGENT_PREFIX, EXECUTOR_PREFIX, FRAMEWORK_PREFIX, JOURNAL, MASTER, REPLY_PREFIX, agents_group, frameworks_group,
)
from messages.ids import PRINCIPAL

EXCHANGE = "mesobus"
_SHARED = r"mesobus|mesobus\.dlx"  # the exchanges every process publishes to (declared by the master)
_REPLY = re.escape(REPLY_PREFIX) + "[0-9a-f]+"
_AGENT, _FRAMEWORK, _EXECUTOR = (re.escape(prefix) for prefix in (AGENT_PREFIX, FRAMEWORK_PREFIX, EXECUTOR_PREFIX))


@dataclass(frozen=True)
class Grant:
    """Patterns for `rabbitmqctl set_permissions` and `set_topic_permissions`."""

    kind: str
    configure: str
    write: str
    read: str
    topic_write: str  # routing keys it may publish to on `mesobus`
    topic_read: str  # routing keys it may bind its queues with on `mesobus`


def check_principal(name: str) -> str:
    if not PRINCIPAL.fullmatch(name or ""):
        raise ValueError(
            f"principal {name[:80]!r}: use 1 to 64 letters, digits or '_' (it starts the ids of its "
            "agents and frameworks, ended by '-')"
        )
    return name


def _grant(kind: str, own: list[str], publish: list[str], bind: list[str]) -> Grant:
    queues = "|".join(rf"mesobus\.{address}" for address in own + [_REPLY])
    return Grant(
        kind=kind,
        configure=rf"^({queues})$",  # never the shared ones: configure lets one delete them
        write=rf"^({_SHARED}|{queues})$",  # the exchanges to publish; own queues to bind
        read=rf"^(mesobus|{queues})$",  # `mesobus` to bind from (never the dlx: dead letters); own queues to consume
        topic_write="^(" + "|".join([MASTER, JOURNAL, _REPLY, *publish]) + ")$",
        topic_read="^(" + "|".join([*bind, _REPLY]) + ")$",
    )


def framework_grant(principal: str) -> Grant:
    p = check_principal(principal)
    # An executor's address is executor.<agent_id>.<framework_id>.<executor_id> (messages/addresses.py).
    framework, executors = rf"{_FRAMEWORK}{p}-[^.]+", rf"{_EXECUTOR}[^.]+\.{p}-[^.]+\..+"
    return _grant("framework", [framework], [executors], [framework, re.escape(frameworks_group(MASTER))])


def agent_grant(principal: str) -> Grant:
    p = check_principal(principal)
    agent, executors = rf"{_AGENT}{p}-[^.]+", rf"{_EXECUTOR}{p}-[^.]+\..+"
    return _grant("agent", [agent, executors], [agent, executors], [agent, executors, re.escape(agents_group(MASTER))])


def master_grant(principal: str) -> Grant:
    check_principal(principal)
    return Grant("master", ".*", ".*", ".*", ".*", ".*")


GRANTS = {"framework": framework_grant, "agent": agent_grant, "master": master_grant}
