"""What the subcommands share: an argparse parser that fails in one line, checks for
broker URLs and resource text, logging, and waiting for Ctrl-C / SIGTERM.

>>> broker_url("amqp://guest:guest@localhost:5672/%2F")
'amqp://guest:guest@localhost:5672/%2F'
>>> broker_url("http://x")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: 'http://x': the broker URL must start with amqp:// or amqps://
>>> resources_text("cpus:x")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: bad scalar for cpus: 'x' (expected a non-negative number)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, NoReturn
from urllib.parse import urlsplit, urlunsplit

from actors.connect import set_library_log_levels
from messages import Resources, ResourceError

BROKER_ENV = "MESOBUS_BROKER"
AMQP_SCHEMES = ("amqp", "amqps")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `mesobus run: error: ...`."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def broker_url(text: str, *, allow_memory: bool = False) -> str:
    """An argparse type: an amqp(s):// URL with a host (memory:// where allowed)."""
    parts = urlsplit(text)
    schemes = AMQP_SCHEMES + (("memory",) if allow_memory else ())
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise argparse.ArgumentTypeError(f"{text!r}: the broker URL must start with {wanted}")
    if parts.scheme in AMQP_SCHEMES and not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r}: the broker URL needs a host (amqp://user:pass@host:5672/vhost)")
    try:
        parts.port  # noqa: B018  raises on a port that is not a number
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None
    return text


def memory_or_broker_url(text: str) -> str:
    return broker_url(text, allow_memory=True)


def resources_text(text: str) -> str:
    """An argparse type: resource text that `Resources.parse` accepts."""
    try:
        Resources.parse(text)
    except ResourceError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_broker(parser: argparse.ArgumentParser, *, required: bool, allow_memory: bool = False, help: str = "") -> None:
    """--broker URL, defaulting to $MESOBUS_BROKER."""
    default = os.environ.get(BROKER_ENV) or None
    kind = memory_or_broker_url if allow_memory else broker_url
    parser.add_argument(
        "--broker",
        metavar="URL",
        type=kind,
        default=default,
        help=(help or "the RabbitMQ broker, e.g. amqp://guest:guest@localhost:5672/%%2F")
        + f" (default: ${BROKER_ENV}{'' if required else ', else embedded'})",
    )
    parser.set_defaults(_broker_required=required and default is None)


def need_broker(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "_broker_required", False) and not args.broker:
        parser.error(f"--broker is required (or set ${BROKER_ENV})")


def setup_logging(verbosity: int, *, embedded: bool = False) -> None:
    """-v: info, -vv: debug. Commands that run a whole cluster inside (run, demo) show only
    errors by default: the cluster's own warnings are not the user's business there."""
    if verbosity <= 0:
        level = logging.ERROR if embedded else logging.WARNING
    else:
        level = logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    set_library_log_levels(verbosity)


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


def wait_for_signal(stop: threading.Event | None = None) -> str:
    """Block until SIGINT or SIGTERM (or `stop` is set); returns the signal's name."""
    stop = stop or threading.Event()
    with signals_set(stop) as got:
        while not stop.wait(0.5):  # a timeout, so that signal handlers run promptly
            pass
    return got[0] if got else "stop"


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
