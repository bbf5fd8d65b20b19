"""Raw pika for tests: look at the broker without going through the transport.

    with raw_channel(url) as channel:
        channel.basic_publish("", "mesobus.x.echo", b"junk")
    delete_queues(url, "mesobus.x.echo")
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Any, Iterator

import pika
import pika.exceptions


def unique_prefix(label: str) -> str:
    """An address prefix no other test run uses: `<label>-<pid>-<random>`."""
    return f"t-{label}-{os.getpid()}-{os.urandom(3).hex()}"


@contextmanager
def raw_channel(url: str) -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def queue_exists(url: str, queue: str) -> bool:
    with raw_channel(url) as channel:
        try:
            channel.queue_declare(queue, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False


def queue_depth(url: str, queue: str) -> int:
    """Messages ready in `queue` (not counting unacked ones)."""
    with raw_channel(url) as channel:
        return channel.queue_declare(queue, passive=True).method.message_count


def delete_queues(url: str, *queues: str) -> None:
    """Delete these queues if they exist (test cleanup; only ever our own names)."""
    with raw_channel(url) as channel:
        for queue in queues:
            channel.queue_delete(queue)


def get_matching(channel: Any, queue: str, predicate: Any, timeout: float = 10.0) -> tuple[Any, bytes]:
    """basic_get from a test-private queue until `predicate(properties, body)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
        elif predicate(properties, body):
            return properties, body
    raise AssertionError(f"no matching message in {queue} after {timeout}s")
