"""Size bounds of the protocol, checked before any work is spent on a message.

Every message off the wire is hostile until checked (design.md §9): these bounds keep
one message from costing unbounded memory, time or log space, and keep every name that
becomes a routing key or a file name within what AMQP and file systems accept. Lengths
are in BYTES of UTF-8, as AMQP and file systems count them (a 200-character non-ASCII
id is 400 bytes).

>>> utf8_fits("é" * 60, MAX_ID_BYTES), utf8_fits("é" * 61, MAX_ID_BYTES)
(True, False)
"""

from __future__ import annotations

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # one encoded message (RabbitMQ 4's default max_message_size)
MAX_ADDRESS_BYTES = 255  # an address is an AMQP routing key: a short string
# An address's mailbox is the queue `mesobus.<address>` (rabbitmq/topology.py), and a queue
# name is an AMQP short string too: an address with a mailbox has 8 bytes less.
MAILBOX_PREFIX = "mesobus."
MAX_MAILBOX_ADDRESS_BYTES = 255 - len(MAILBOX_PREFIX)
MAX_ENVELOPE_ID_BYTES = 255  # message, correlation and causation ids
# A body field named `*_id` (framework, agent, executor, task, offer ids...): ids become
# addresses and file names (a sandbox directory's name: 255 bytes); what else an id may
# hold is messages/ids.py's.
MAX_ID_BYTES = 120
MAX_TEXT_BYTES = 1024 * 1024  # any other text field (a command line, a message, a name)
MAX_DEPTH = 32  # nesting of free-form (`Any`) values: maps and lists inside each other
MAX_RESOURCE_TEXT_BYTES = 64 * 1024  # one resource text ("cpus:4;mem:4096;...")
MAX_RESOURCE_DIGITS = 18  # digits in one number of a resource text (before the decimal point)


def utf8_fits(text: str, limit: int) -> bool:
    """Whether `text` is at most `limit` bytes in UTF-8 (cheap for ASCII text)."""
    if len(text) > limit:
        return False
    return text.isascii() or len(text.encode("utf-8", "surrogatepass")) <= limit


def depth_within(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether maps and lists in `value` nest at most `limit` deep (iteratively: a
    hostile value must not exhaust the interpreter's stack while being checked)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.keys()) + list(item.values())
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))
    return True
