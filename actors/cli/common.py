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
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NoReturn
from urllib.parse import urlsplit

from actors.connect import set_library_log_levels
from actors.console import fail, redact, signal_exit_code, signals_set  # noqa: F401  (the CLI's helpers too)
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
    if parts.scheme in AMQP_SCHEMES:
        # The query's options (prefetch, heartbeat, ...) are checked now: a usage error,
        # not a traceback once the command has started.
        from rabbitmq.config import parse_url  # lazily: only a broker URL needs it

        try:
            parse_url(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
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


def quiet_broker_errors(verbosity: int, *, embedded: bool = False) -> None:
    """Below -vv a broker error is logged in one line, without its traceback, and pika's
    and the transport's line per refused login (and an actor's death for it) are left out
    (the command says it once, in its own words); in run and demo (`embedded`) an actor
    that could not start for a broker error is not reported by pykka too, since the
    command reports it."""
    if embedded:  # run and demo show errors only, but an outage they wait out is said
        logging.getLogger("rabbitmq.connection").setLevel(logging.WARNING)
    if verbosity >= 2:
        return
    logging.getLogger("pika.connection").setLevel(logging.CRITICAL)
    quiet = _quiet_actor_failures if embedded and verbosity <= 0 else _no_traceback_for_broker_errors
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)


def _quiet_actor_failures(record: logging.LogRecord) -> bool:
    """For run and demo: an actor that could not start for a broker error is reported by
    the command itself (in one line): pykka's report of it is not repeated."""
    error = record.exc_info[1] if record.exc_info else None
    from actors.runtime import TransportError

    if isinstance(error, TransportError) and record.name == "pykka":
        return False
    return _no_traceback_for_broker_errors(record)


def _no_traceback_for_broker_errors(record: logging.LogRecord) -> bool:
    from actors.runtime import TransportError

    if record.name.startswith(("rabbitmq.", "actors.runtime.deaths")) and refused_access(record.getMessage()):
        return False  # the refusal ends the command, whose own line says so
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, TransportError) and record.name == "pykka" and refused_access(str(error)):
        return False  # an actor that could not start for it: the same refusal, said once
    if isinstance(error, TransportError):
        record.msg = f"{record.getMessage()} {error}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


def refused_access(why: str) -> bool:
    """Whether a broker error is a refusal (wrong user or password, no permission on the
    vhost): retrying will not help, unlike an outage."""
    return "ACCESS_REFUSED" in why or "AuthenticationError" in why or "NOT_ALLOWED" in why or "refused user" in why


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM (SIGINT raises KeyboardInterrupt itself), so
    that both unwind the same way: whatever was started is stopped and cleaned up."""

    signum = signal.SIGTERM


def exit_code_for(interrupt: BaseException) -> int:
    """128 + the signal's number: 130 for SIGINT (Ctrl-C), 143 for SIGTERM."""
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))


def signal_name(interrupt: BaseException) -> str:
    return signal.Signals(getattr(interrupt, "signum", signal.SIGINT)).name


def raise_on_sigterm() -> None:
    """From now on SIGTERM raises `Interrupted` in the main thread, like Ctrl-C."""

    def handler(signum: int, _frame: object) -> None:
        raise Interrupted()

    signal.signal(signal.SIGTERM, handler)


def wait_for_signal(stop: threading.Event | None = None, tick: Callable[[], None] | None = None) -> str:
    """Block until SIGINT or SIGTERM (or `stop` is set); returns the signal's name.
    `tick()`, if given, is called about every half second meanwhile."""
    stop = stop or threading.Event()
    with signals_set(stop) as got:
        while not stop.wait(0.5):  # a timeout, so that signal handlers run promptly
            if tick is not None:
                tick()
    return got[0] if got else "stop"


@contextmanager
def stop_on_actor_death(stop: threading.Event) -> Iterator[None]:
    """Inside the block an actor that stops without being asked to (actors.runtime's
    `actor_deaths`) sets `stop`: a daemon must not run on with a dead actor."""
    from actors.runtime import actor_deaths

    def died(_address: str, _error: str) -> None:
        stop.set()

    actor_deaths.subscribe(died)
    try:
        yield
    finally:
        actor_deaths.unsubscribe(died)


def actor_death_line() -> str:
    """'actor X stopped: why' for the first actor that died in this process, else ""."""
    from actors.runtime import actor_deaths

    first = actor_deaths.first
    return f"actor {first[0]} stopped: {first[1]}" if first else ""


def broker_error_line(error: BaseException) -> str:
    """The one line for a broker error: a refusal says so (retrying will not help)."""
    text = str(error)
    if refused_access(text):
        return f"the broker refused access (check the user, the password and the vhost's permissions): {text}"
    return text


def journal_problem(args: argparse.Namespace) -> str:
    """Why the --journal file cannot be written ("" when it can, or none is asked for),
    found before anything starts: one line instead of a traceback from inside."""
    path = getattr(args, "journal", None)
    if not path or getattr(args, "no_journal", False):
        return ""
    try:
        with open(path, "ab"):
            pass
    except OSError as err:
        return f"--journal {path}: {err.strerror or err}"
    return ""


class Refused(Exception):
    """A command cannot start: its message is the one line to print (exit 1)."""


def sole_leader_lock(prog: str, url: str | None) -> Any:
    """The leader lock on `url` for a process that starts its own master (`local`, `demo`),
    taken at once, or `Refused` when another master leads on that vhost: two masters on one
    vhost would share the `mesobus.master` queue. None for memory:// (a master is alone
    there). The caller closes the lock when its master stops."""
    from actors.connect import leader_lock

    if not url or url.startswith("memory"):
        return None
    lock = leader_lock(url, f"{prog} (pid {os.getpid()})")
    if lock is None:
        return None
    refused: list[str] = []
    stop = threading.Event()

    def on_standby(why: str) -> None:
        if why == "another master leads" or refused_access(why):
            refused.append(why)
            stop.set()
        else:  # an outage: wait for the broker, as every process does
            print(f"{prog}: waiting for the broker: {why}", file=sys.stderr, flush=True)

    try:
        acquired = lock.acquire(stop, on_standby=on_standby)
    except BaseException:
        lock.close()
        raise
    if not acquired:
        lock.close()
        if refused_access(refused[0]):
            raise Refused(broker_error_line(Exception(refused[0])))
        raise Refused(f"{refused[0]} on {redact(url)}: stop it, or use another vhost")
    return lock


def stop_in_order(handle: Any, cluster: Any = None, timeout: float = 10.0) -> None:
    """On a requested stop: the framework first, then (once the master has removed it
    and the agents have ended its executors, or after `timeout` seconds) the cluster's
    agents with their executors, then its master: nothing is left talking to a stopped
    actor, so nothing prints a traceback."""
    framework_id = handle.framework_id
    handle.stop()
    if cluster is None:
        return
    deadline = time.monotonic() + timeout
    while framework_id and time.monotonic() < deadline and _framework_still_running(cluster, framework_id):
        time.sleep(0.05)
    cluster.stop()


def _framework_still_running(cluster: Any, framework_id: str) -> bool:
    try:
        if any(f["id"] == framework_id for f in cluster.state()["frameworks"]):
            return True
        for ref in cluster.agent_refs:
            agent = ref.proxy().state().get(timeout=5)
            if any(e["framework_id"] == framework_id for e in agent["executors"]):
                return True
    except Exception:  # noqa: BLE001  an actor already gone: nothing left to wait for
        return False
    return False
