"""What every command-line process does the same way, whichever package runs it (the
CLI, a hosted framework): one error line, URLs printed without passwords, and SIGINT /
SIGTERM turned into a stop. Below both actors/cli and actors/frameworks, so that neither
imports the other for these.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit


def fail(prog: str, message: str, code: int = 1) -> int:
    """Print one error line for a problem found after parsing; returns the exit code."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def redact(url: str) -> str:
    """The URL without its password, for printing.

    >>> redact("amqp://guest:secret@host:5672/%2F")
    'amqp://guest:***@host:5672/%2F'
    """
    parts = urlsplit(url)
    if parts.password:
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    return urlunsplit(parts)


@contextmanager
def signals_set(stop: threading.Event) -> Iterator[list[str]]:
    """Inside the block SIGINT and SIGTERM set `stop`; the list names the signals seen."""
    got: list[str] = []

    def handler(signum: int, _frame: object) -> None:
        got.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def signal_exit_code(name: str) -> int:
    """The exit code after a stop by signal `name`: 128 + its number (130 for SIGINT,
    143 for SIGTERM), as a shell reports a process killed by it; 0 for any other stop.

    >>> signal_exit_code("SIGTERM"), signal_exit_code("SIGINT"), signal_exit_code("stop")
    (143, 130, 0)
    """
    try:
        return 128 + int(signal.Signals[name])
    except KeyError:
        return 0
