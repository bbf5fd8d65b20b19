"""The leader lock of a framework process (services, jobs, any framework run with
actors/frameworks/hosting): the master's mechanism (rabbitmq/leader.py), on the queue
`mesobus.framework-leader.<name>`, so each named framework has one leader per vhost.

    lock = framework_lock("amqp://...", "services", holder="services on host-a (pid 7)")
    lock.acquire(stop)  # blocks while another process of that framework leads
"""

from __future__ import annotations

from rabbitmq.config import parse_url
from rabbitmq.leader import LeaderLock


def lock_queue(name: str) -> str:
    return f"mesobus.framework-leader.{name}"


def framework_lock(url: str, name: str, holder: str, *, retry: float = 1.0) -> LeaderLock:
    return LeaderLock(parse_url(url), holder, retry=retry, queue=lock_queue(name))
