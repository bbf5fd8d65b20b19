"""How every actor's address is spelled: the one place that builds one.

An address is what an envelope's `target` and `sender` hold and what a transport routes
by (on RabbitMQ: the routing key; the mailbox is the queue `mesobus.<address>`). Its parts
are separated by '.', so the ids in it follow messages/ids.py's `address_id_problem`.

>>> MASTER, ALLOCATOR, agent_address("a1"), framework_address("f1")
('master', 'allocator', 'agent.a1', 'framework.f1')
>>> executor_address("a1", "f1", "mesobus-command")
'executor.a1.f1.mesobus-command'
>>> executor_address_problem("a" * 120, "f" * 120, "e")
"the executor's address (agent id + framework id + executor id) is 252 bytes: over the 247 a mailbox's address may have (AMQP queue names are at most 255 bytes)"
>>> agents_group(MASTER), frameworks_group(MASTER), is_group(agents_group(MASTER))
('group.master.agents', 'group.master.frameworks', True)
"""

from __future__ import annotations

from messages.limits import MAX_MAILBOX_ADDRESS_BYTES

MASTER = "master"  # the master's default address (the leader's mailbox)
ALLOCATOR = "allocator"  # the allocator's default address (beside the master)
DEAD_LETTERS = "dead"  # the dead-letter mailbox: what no actor could handle, with the reason
JOURNAL = "journal"  # journal records' target: only the journal keeps them, never a mailbox
REGISTRY = "registry"  # registry records' target: the registry's log, never a mailbox

AGENT_PREFIX = "agent."
FRAMEWORK_PREFIX = "framework."
EXECUTOR_PREFIX = "executor."
GROUP_PREFIX = "group."  # a broadcast: copied to every mailbox bound with it
REPLY_PREFIX = "reply."  # a one-off mailbox for the answers to `ask`


def agent_address(agent_id: str) -> str:
    return AGENT_PREFIX + agent_id


def framework_address(framework_id: str) -> str:
    """A framework scheduler's mailbox."""
    return FRAMEWORK_PREFIX + framework_id


def executor_address(agent_id: str, framework_id: str, executor_id: str) -> str:
    """An executor's mailbox. The agent id is part of it: the command executor has the same
    id on every agent, and two executors must never share a queue."""
    return f"{EXECUTOR_PREFIX}{agent_id}.{framework_id}.{executor_id}"


def executor_address_problem(agent_id: str, framework_id: str, executor_id: str) -> str | None:
    """Why an executor with these ids could have no mailbox, or None: each id may be
    MAX_ID_BYTES, but the three together (with 'executor.' and the prefix of its queue's
    name) may not pass AMQP's 255 bytes. Checked before a task is launched."""
    size = len(executor_address(agent_id, framework_id, executor_id).encode("utf-8", "surrogatepass"))
    if size <= MAX_MAILBOX_ADDRESS_BYTES:
        return None
    return (f"the executor's address (agent id + framework id + executor id) is {size} bytes: over the "
            f"{MAX_MAILBOX_ADDRESS_BYTES} a mailbox's address may have (AMQP queue names are at most 255 bytes)")


def reply_address(token: str) -> str:
    """A one-off reply mailbox (`token`: random, made by the asker)."""
    return REPLY_PREFIX + token


def group_address(name: str) -> str:
    """The broadcast address of a group, e.g. `group.master.agents`."""
    return GROUP_PREFIX + name


def is_group(address: str) -> bool:
    return address.startswith(GROUP_PREFIX)


def agents_group(master: str) -> str:
    """Every agent of `master`: a master that starts tells them to register again."""
    return group_address(f"{master}.agents")


def frameworks_group(master: str) -> str:
    """Every framework scheduler of `master` (the same call, to schedulers)."""
    return group_address(f"{master}.frameworks")
