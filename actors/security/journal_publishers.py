"""Who may have written what into the journal stream. Every process publishes copies of
its messages to the routing key `journal` (rabbitmq/journal_copies.py), so the broker
cannot keep a framework from publishing there; instead a reader checks each record's
publisher, the AMQP `user_id` RabbitMQ verified, against the senders in it: the master's
principal may have written anything, another principal P only what P's own actors send
(`framework.P-*`, `agent.P-*` and, for its executors, `executor.P-*`) and reply
addresses. What fails is left out of the journal with a warning.

>>> problem("mesos_master", "mesos_master", "master") is None
True
>>> problem("alice", "mesos_master", "framework.alice-f1") is None
True
>>> problem("alice", "mesos_master", "master")
"published by 'alice', who may not write as 'master'"
>>> problem(None, "mesos_master", "framework.alice-f1")
"published by an unverified user, who may not write as 'framework.alice-f1'"
"""

from __future__ import annotations

OWN_KINDS = ("framework", "agent", "executor")  # addresses whose id starts with the principal


def problem(publisher: str | None, master_principal: str, sender: str) -> str | None:
    """Why a journal record with `sender`, published by `publisher` (None: the broker did
    not verify one), is not to be believed; or None."""
    if publisher is not None and publisher == master_principal:
        return None
    if sender.startswith("reply."):
        return None
    kind, _, rest = sender.partition(".")
    if publisher and kind in OWN_KINDS and rest.startswith(publisher + "-"):
        return None
    who = f"{publisher[:64]!r}" if publisher else "an unverified user"
    return f"published by {who}, who may not write as {sender[:80]!r}"
