"""Reach a transport (and the leader lock) from a URL, and post to a mailbox from outside
an actor's handlers.

>>> t = connect_transport("memory://")
>>> type(t).__name__
'MemoryTransport'
>>> connect_transport("http://x")
Traceback (most recent call last):
...
ValueError: broker URL 'http://x': expected memory://, amqp:// or amqps://

`actors/` never imports pika: the AMQP transport is imported here, lazily, only when an
amqp(s):// URL is asked for (in executor processes and the CLI).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from actors.runtime import MemoryTransport, Transport, TransportError
from messages import Envelope

if TYPE_CHECKING:
    from actors.registry import RegistryLog
    from rabbitmq.leader import LeaderLock

log = logging.getLogger(__name__)


def connect_transport(url: str) -> Transport:
    """A transport for `url`: `memory://` (this process only) or `amqp[s]://` (RabbitMQ)."""
    scheme = _scheme(url)
    if scheme == "memory":
        return MemoryTransport()
    if scheme in ("amqp", "amqps"):
        from rabbitmq import AmqpTransport  # lazily: only processes on a broker need pika

        return AmqpTransport(url)
    raise ValueError(f"broker URL {url!r}: expected memory://, amqp:// or amqps://")


def leader_lock(url: str, holder: str) -> "LeaderLock | None":
    """The lock that decides which master leads on the broker at `url` (see
    rabbitmq/leader.py); None for `memory://`, where a master is alone by construction."""
    if _scheme(url) == "memory":
        return None
    from rabbitmq import parse_url
    from rabbitmq.leader import LeaderLock

    return LeaderLock(parse_url(url), holder)


def registry_log(url: str, transport: Transport | None) -> "RegistryLog":
    """Where the master's registry is kept on the broker at `url`: the stream
    `mesobus.registry` written through `transport` (the leader's; None: for reading
    only); in memory for `memory://` (nothing outlives the process there)."""
    from actors.registry import MemoryRegistryLog

    if _scheme(url) == "memory":
        return MemoryRegistryLog()
    from rabbitmq import parse_url
    from rabbitmq.registry import StreamRegistryLog

    return StreamRegistryLog(parse_url(url), transport)


# pika logs each failed connection attempt at ERROR: half a dozen lines and a traceback,
# every retry of an outage; mesobus reports outages itself, one line per retry. And it
# warns of every channel the broker closes, expected ones too (a passive declare of a
# queue that is not there); mesobus logs the closes that matter, with what it does next.
_PIKA_LEVELS = {
    "pika.adapters.utils.connection_workflow": logging.CRITICAL,
    "pika.adapters.utils.io_services_utils": logging.CRITICAL,
    "pika.adapters.blocking_connection": logging.CRITICAL,
    "pika.adapters.base_connection": logging.CRITICAL,
    "pika.channel": logging.ERROR,
    # A failed login or a host that does not resolve: logged at ERROR before pika raises;
    # mesobus (the journal readers too) says it in one line.
    "pika.connection": logging.CRITICAL,
    "pika.adapters.utils.selector_ioloop_adapter": logging.CRITICAL,
}


def set_library_log_levels(verbosity: int = 0) -> None:
    """Called by the command line once it sets up logging: pika's loggers say only what
    mesobus does not say better itself; with -vv (debug) pika says everything."""
    for name, level in _PIKA_LEVELS.items():
        logging.getLogger(name).setLevel(logging.NOTSET if verbosity >= 2 else level)


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def poster(transport: Transport, address: str, new_id: Callable[[], str]) -> Callable[[Any], None]:
    """A function that puts a message in `address`'s mailbox, for threads that are not the
    actor's own (process watchers): the message is then handled like any other.

    >>> t = MemoryTransport()
    >>> got = []
    >>> t.subscribe("agent.a1", lambda d: (got.append(d), t.ack(d)))
    >>> from messages import PingAgent
    >>> poster(t, "agent.a1", lambda: "id-1")(PingAgent()); t.settle(); len(got)
    1
    """

    def post(body: Any) -> None:
        try:
            transport.publish(
                Envelope(
                    id=new_id(),
                    sender=address,
                    target=address,
                    body=body,
                    sent_at=transport.clock.now(),
                )
            )
        except TransportError as err:  # the process is shutting down: nobody is left to tell
            log.warning("could not post %s to %s: %s", type(body).__name__, address, err)

    return post
