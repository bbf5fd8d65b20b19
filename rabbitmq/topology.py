"""Every exchange, queue, binding and queue argument mesobus uses, declared in one place.

>>> mailbox("agent.a1", queue_type="quorum")
MailboxSpec(queue='mesobus.agent.a1', durable=True, exclusive=False, auto_delete=False, arguments={'x-queue-type': 'quorum', 'x-dead-letter-exchange': 'mesobus.dlx'}, exchange='mesobus', groups=())
>>> mailbox("reply.ab12", durable=False).exclusive
True
>>> mailbox("dead").exchange  # the dead-letter mailbox is fed by the dlx only
'mesobus.dlx'

Layout (design.md §2; deploy/rabbitmq/definitions.json declares the same for operators):

    publish(routing key = address) -> exchange `mesobus` (topic, durable)
        -> queue `mesobus.<address>` (durable; bound with key = address)
    publish(routing key = group.<name>, not mandatory) -> every queue bound with that key
        too (an agent's queue with `group.master.agents`, a framework's with
        `group.master.frameworks`: a starting master's call to register again)
    dead letters (routing key = address, headers x-mesobus-reason / x-mesobus-address)
        -> exchange `mesobus.dlx` (topic, durable) -> queue `mesobus.dead` (bound with `#`)
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from messages.addresses import DEAD_LETTERS, JOURNAL, is_group  # JOURNAL: the key only the journal stream is bound to

EXCHANGE = "mesobus"
DLX = "mesobus.dlx"
DEAD_QUEUE = "mesobus.dead"
PREFIX = "mesobus."
REASON_HEADER = "x-mesobus-reason"
ADDRESS_HEADER = "x-mesobus-address"
UNROUTABLE = "unroutable"  # the reason given to messages no queue was bound for
JOURNAL_HEADER = "x-mesobus-journal"  # marks journal batches (sent mandatory: a return means no stream)

_MAX_ADDRESS = 255 - len(PREFIX)  # queue names are at most 255 bytes


@dataclass(frozen=True)
class MailboxSpec:
    """How one address's queue is declared and bound."""

    queue: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: dict[str, Any] = field(default_factory=dict)
    exchange: str = EXCHANGE  # bound to this exchange with routing key = address
    groups: tuple[str, ...] = ()  # bound with these routing keys too (broadcasts)


def queue_name(address: str) -> str:
    """`agent.a1` -> `mesobus.agent.a1`."""
    return PREFIX + address


def check_address(address: str) -> str:
    """An address is a topic routing key without wildcards; raise ValueError otherwise."""
    if not isinstance(address, str) or not address:
        raise ValueError(f"an address must be a non-empty string, got {address!r}")
    if "*" in address or "#" in address:
        raise ValueError(f"address {address!r} contains a topic wildcard (* or #)")
    if len(address.encode()) > _MAX_ADDRESS:
        raise ValueError(f"address {address[:40]!r}... is longer than {_MAX_ADDRESS} bytes")
    return address


def queue_arguments(queue_type: str, *, durable: bool = True) -> dict[str, Any]:
    """The arguments of every mailbox queue; redeclaring with other ones fails (406).

    Quorum queues must be durable, so a non-durable (reply) mailbox is always classic.
    The queue-level dead-letter exchange catches anything the broker itself drops
    (a policy's delivery-limit or TTL); it keeps the routing key, i.e. the address.
    """
    return {
        "x-queue-type": queue_type if durable else "classic",
        "x-dead-letter-exchange": DLX,
    }


DEAD_MAX_BYTES = 256 * 2**20  # mesobus.dead keeps at most this much ...
DEAD_OVERFLOW = "drop-head"  # ... dropping its oldest letters: a flood never blocks or nacks


def dead_queue_arguments() -> dict[str, Any]:
    """The shared dead-letter queue: always classic, bounded in bytes, the oldest letters
    dropped first (with `reject-publish` a full queue would nack every new dead letter,
    which the publisher sends again: a loop). Every process declares it alike."""
    return {"x-queue-type": "classic", "x-max-length-bytes": DEAD_MAX_BYTES, "x-overflow": DEAD_OVERFLOW}


def mailbox(
    address: str, *, durable: bool = True, queue_type: str = "classic", groups: Sequence[str] = (),
) -> MailboxSpec:
    """The declaration of `address`'s queue. Reply mailboxes (durable=False) are
    exclusive to their connection and vanish with it."""
    check_address(address)
    for group in groups:
        check_address(group)
        if not is_group(group):
            raise ValueError(f"{group!r} is not a group address (group.<name>)")
    if address == DEAD_LETTERS:
        return MailboxSpec(DEAD_QUEUE, True, False, False, dead_queue_arguments(), DLX)
    if not durable:
        spec = MailboxSpec(queue_name(address), False, True, True, queue_arguments(queue_type, durable=False))
    else:
        spec = MailboxSpec(queue_name(address), True, False, False, queue_arguments(queue_type))
    return dataclasses.replace(spec, groups=tuple(groups))


# --- asynchronous declaration on a pika channel (the I/O thread only) -----------------

Step = Callable[[Callable[[], None]], None]


def run_steps(steps: list[Step], done: Callable[[], None]) -> None:
    """Run asynchronous steps one after another, then `done()`. A failing declaration
    closes the channel; the channel's close callback reports it, so there is no error path."""

    def run(index: int) -> None:
        if index == len(steps):
            done()
        else:
            steps[index](lambda: run(index + 1))

    run(0)


def declare_topology(channel: Any, done: Callable[[], None], missing: Callable[[str], None]) -> None:
    """Declare the exchanges and the dead-letter queue (idempotent).

    Only the master's principal may configure them (configure would also let one delete
    them: docs/security.md): another principal's declaration is refused (403, on a channel
    of its own) and it then checks, passively, that they exist; when one does not,
    `missing(why)` is called instead of `done`."""
    run_steps(
        [
            _shared(channel, missing, f"exchange {EXCHANGE!r}",
                    lambda ch, ok: ch.exchange_declare(EXCHANGE, "topic", durable=True, callback=lambda _f: ok()),
                    lambda ch, ok: ch.exchange_declare(EXCHANGE, passive=True, callback=lambda _f: ok())),
            _shared(channel, missing, f"exchange {DLX!r}",
                    lambda ch, ok: ch.exchange_declare(DLX, "topic", durable=True, callback=lambda _f: ok()),
                    lambda ch, ok: ch.exchange_declare(DLX, passive=True, callback=lambda _f: ok())),
            _shared(channel, missing, f"queue {DEAD_QUEUE!r}",
                    lambda ch, ok: ch.queue_declare(DEAD_QUEUE, durable=True, arguments=dead_queue_arguments(),
                                                    callback=lambda _f: ok()),
                    lambda ch, ok: ch.queue_declare(DEAD_QUEUE, passive=True, callback=lambda _f: ok()),
                    {406: _warn_old_dead_queue}),
            _bind_dead_queue(channel),
        ],
        done,
    )


Act = Callable[[Any, Callable[[], None]], None]  # (channel, done) -> None


def _shared(channel: Any, missing: Callable[[str], None], what: str, declare: Act, check: Act,
            tolerated: dict[int, Callable[[], object]] | None = None) -> Step:
    """Declare a shared exchange or queue on a side channel; refused (403): `check` that
    it exists, on another; not found (404): `missing(...)`, and no further step."""

    def not_found() -> bool:
        missing(f"no {what} on this vhost, and only the master's principal may declare it: start a master "
                "once on the vhost, or load deploy/rabbitmq/definitions.json")
        return False

    def step(next_: Callable[[], None]) -> None:
        refused: list[bool] = []

        def declared() -> None:
            if refused:
                _side_channel(channel.connection, next_, check, {404: not_found})
            else:
                next_()

        _side_channel(channel.connection, declared, declare, {**(tolerated or {}), 403: lambda: refused.append(True)})

    return step


def _bind_dead_queue(channel: Any) -> Step:
    """Bind `mesobus.dead` to the dlx on a channel of its own: binding from `mesobus.dlx`
    needs *read* on it, which only the master's principal has (anyone who may bind from
    it could bind a queue of their own and read every dead letter: docs/security.md). A
    principal without it is refused (403, closing only that channel) and goes on: the
    master (or the predeclared topology) has made the binding."""
    return lambda next_: _side_channel(channel.connection, next_, lambda ch, bound: ch.queue_bind(
        DEAD_QUEUE, DLX, routing_key="#", callback=lambda _f: bound()), {403: lambda: None})


def _side_channel(connection: Any, next_: Callable[[], None], act: Act,
                  tolerated: dict[int, Callable[[], object]]) -> None:
    """Run `act(channel, done)` on a channel of its own, then `next_()`. A refusal whose
    reply code is in `tolerated` (it closes only that channel) calls its function and goes
    on too, unless that returns False; any other is left to the connection's own handling."""
    finished = False

    def go_on() -> None:
        nonlocal finished
        if not finished:
            finished = True
            next_()

    def acted(channel: Any) -> None:
        go_on()
        channel.close()

    def closed(_channel: Any, reason: Any) -> None:
        code = getattr(reason, "reply_code", 0)
        if finished or code not in tolerated or not connection.is_open:
            return  # closed by us, or the connection is going (its loss is handled elsewhere)
        if tolerated[code]() is not False:
            go_on()

    def opened(channel: Any) -> None:
        channel.add_on_close_callback(closed)
        act(channel, lambda: acted(channel))

    connection.channel(on_open_callback=opened)


# The refusals every process but the master's meets by design (above): pika would log
# each one as a warning on every connection.
_EXPECTED_REFUSALS = tuple(f"access to {what} in vhost" for what in (
    f"exchange '{EXCHANGE}'", f"exchange '{DLX}'", f"queue '{DEAD_QUEUE}'"))


def _unexpected(record: logging.LogRecord) -> bool:
    text = record.getMessage()
    if "(403)" not in text:
        return True
    return not any(f"{kind} {ending}" in text for kind in ("configure", "read") for ending in _EXPECTED_REFUSALS
                   if kind == "configure" or DLX in ending)


logging.getLogger("pika.channel").addFilter(_unexpected)

_warned_old_dead_queue = False


def _warn_old_dead_queue() -> None:
    """`mesobus.dead` made by an older version (without the byte bound) fails the
    declaration with 406: it is used as it is, and the operator told how to bound it."""
    global _warned_old_dead_queue
    if not _warned_old_dead_queue:
        _warned_old_dead_queue = True
        logging.getLogger(__name__).warning(
            "mesobus: %s was made without a size bound; used as it is (delete it when empty, "
            "or bound it with a policy: max-length-bytes %d, overflow drop-head)",
            DEAD_QUEUE, DEAD_MAX_BYTES,
        )


def declare_mailbox(channel: Any, address: str, spec: MailboxSpec, done: Callable[[], None]) -> None:
    """Declare `address`'s queue and bind it with routing key = address (and its groups)."""
    run_steps(
        [
            lambda next_: channel.queue_declare(
                spec.queue,
                durable=spec.durable,
                exclusive=spec.exclusive,
                auto_delete=spec.auto_delete,
                arguments=spec.arguments,
                callback=lambda _f: next_(),
            ),
            _bind(channel, spec, "#" if spec.exchange == DLX else address),
            *[_bind(channel, spec, group) for group in spec.groups],
        ],
        done,
    )


def _bind(channel: Any, spec: MailboxSpec, routing_key: str) -> Step:
    return lambda next_: channel.queue_bind(
        spec.queue, spec.exchange, routing_key=routing_key, callback=lambda _f: next_()
    )
