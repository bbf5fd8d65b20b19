"""`mesobus agent --broker URL --work-dir DIR`: run an agent on this host until Ctrl-C / SIGTERM.

Resources not named in --resources are detected from the host (cpus, mem, disk, ports).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from actors.cli.agent_status import AgentStatusLines
from actors.cli.common import (
    actor_death_line, add_broker, broker_error_line, fail, need_broker, redact, resources_text, signal_exit_code, stop_on_actor_death,
    wait_for_signal,
)

if TYPE_CHECKING:
    from actors.agent import AgentConfig
    from actors.runtime import Transport

PROG = "mesobus agent"
LOOK_EVERY = 2.0  # seconds between looks at the agent's state (a snapshot of all its tasks)
FIRST_CONNECTION_WAIT = 5.0  # seconds the agent waits to hear whether the broker takes its user

EXECUTOR_MODES = ("process", "noop", "auto", "in-process")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="run an agent on this host", description=__doc__)
    add_broker(p, required=True)
    p.add_argument("--resources", type=resources_text, default="", metavar="TEXT",
                   help='what the agent offers, e.g. "cpus:4;mem:8192;disk:10000;ports:[31000-32000]"')
    p.add_argument("--attributes", type=_attributes, default="", metavar="TEXT", help='e.g. "rack:r1;zone:a"')
    p.add_argument("--work-dir", required=True, metavar="DIR", help="sandboxes and checkpoints live here")
    p.add_argument("--hostname", default=None, help="the hostname the agent reports (default: this host's)")
    p.add_argument("--executor-mode", choices=EXECUTOR_MODES, default="process",
                   help="process: executors are child processes (default); noop: tasks only pretend to run")
    p.add_argument("--checkpoint", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the agent id, tasks and status updates under WORK_DIR/meta, so a restarted agent"
                        " recovers its executors and loses no update (default: on); --no-checkpoint keeps"
                        " nothing on disk (simulations, benchmarks)")
    p.add_argument("--master-principal", default=os.environ.get("MESOBUS_MASTER_PRINCIPAL", ""), metavar="USER",
                   help="the broker user the master publishes as: only its messages are taken as the"
                        " master's (default: $MESOBUS_MASTER_PRINCIPAL, else this agent's own broker user,"
                        " as in a one-user setup)")
    p.add_argument("--root-tasks", action=argparse.BooleanOptionalAction, default=True,
                   help="whether tasks whose user is root may run (default: yes, as Mesos; --no-root-tasks"
                        " refuses them: tasks then run only as their framework's or command's non-root user)")
    p.add_argument("--executor-recovery-timeout", type=float, default=None, metavar="SECONDS",
                   help="an executor that hears nothing from this agent this long kills its tasks and exits"
                        " (default 120; 0: never)")
    p.add_argument("--fetcher-max-size", type=_size, default=None, metavar="BYTES",
                   help="largest file the fetcher downloads for a task's URI, and most one archive may unpack"
                        " to (e.g. 512MB; default 1GB)")
    p.add_argument("--fetcher-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="longest the fetcher may take over one URI (default 300)")
    p.add_argument("--fetcher-cache-size", type=_size, default=None, metavar="BYTES",
                   help="bytes the fetcher cache (WORK_DIR/fetch-cache, for URIs with cache: true) may hold"
                        " (default 2GB; 0: no cache)")
    p.set_defaults(handler=run, _parser=p)


def run(args: argparse.Namespace) -> int:
    need_broker(args._parser, args)
    from actors.agent import AgentConfig
    from actors.agent.config import ConfigError
    from actors.agent.workdir_lock import WorkDirBusy, WorkDirLock

    settings = {"executor_mode": args.executor_mode, "broker_url": args.broker, "checkpoint": args.checkpoint,
                "master_principal": args.master_principal, "root_tasks": args.root_tasks}
    if args.executor_recovery_timeout is not None:
        settings["executor_recovery_timeout"] = args.executor_recovery_timeout
    if args.hostname:
        settings["hostname"] = args.hostname
    for name in ("fetcher_max_size", "fetcher_timeout", "fetcher_cache_size"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    try:
        config = AgentConfig.from_flags(
            resources=args.resources, attributes=args.attributes, work_dir=args.work_dir, **settings
        )
    except (ConfigError, ValueError) as err:
        return fail(PROG, str(err), 2)
    if config.work_dir.exists() and not config.work_dir.is_dir():
        return fail(PROG, f"--work-dir {args.work_dir}: not a directory", 2)
    lock = WorkDirLock(config.work_dir)
    try:
        lock.acquire()  # one agent per work dir: they would share its checkpoint
    except WorkDirBusy as busy:
        return fail(PROG, str(busy), 1)
    except OSError as err:
        return fail(PROG, f"--work-dir {args.work_dir}: {err.strerror or err}", 1)
    try:
        return _serve(args, config)
    finally:
        lock.release()


def _serve(args: argparse.Namespace, config: "AgentConfig") -> int:
    from actors.agent import start_agent
    from actors.agent.checkpoint import CheckpointError
    from actors.agent.config import ConfigError
    from actors.connect import connect_transport

    transport = connect_transport(args.broker)
    try:
        try:
            ref = start_agent(transport, config)
        except (ConfigError, CheckpointError) as err:
            return fail(PROG, str(err), 1)
        except OSError as err:
            return fail(PROG, f"--work-dir {args.work_dir}: {err.strerror or err}", 1)
        refusal = _first_connection(transport)
        if refusal is not None:  # a wrong password or no access to the vhost: one line
            ref.stop()
            return fail(PROG, broker_error_line(refusal), 1)
        say = lambda text: print(f"{PROG}: {text}", file=sys.stderr, flush=True)  # noqa: E731
        say(f"{config.hostname} offers {config.resources} on {redact(args.broker)};"
            f" registering with the master; Ctrl-C to stop")
        say(f"task limits: {_limits(config.limits)}")
        lines = AgentStatusLines(say, master=config.master)

        stop = threading.Event()
        looked = [0.0]

        def tick() -> None:
            if not ref.is_alive():  # it could not start or died: its error was logged
                stop.set()
                return
            if time.monotonic() - looked[0] < LOOK_EVERY:
                return
            looked[0] = time.monotonic()
            try:
                lines.update(ref.proxy().state().get(timeout=5), time.monotonic())
            except Exception:  # noqa: BLE001  a busy or stopping agent: look again next time
                pass

        with stop_on_actor_death(stop):
            how = wait_for_signal(stop, tick=tick)
        died = actor_death_line()
        if died or not ref.is_alive():
            ref.stop()
            return fail(PROG, died or "the agent stopped (its error is logged above)", 1)
        say(f"{how}: stopping")
        ref.stop()
    finally:
        transport.close()
    return signal_exit_code(how)


def _first_connection(transport: "Transport", wait: float = FIRST_CONNECTION_WAIT) -> Exception | None:
    """The broker's refusal of this agent's user, if it refuses within `wait` seconds:
    said instead of the status lines (an outage is waited out, and said, as before)."""
    deadline = time.monotonic() + wait
    while not transport.connected and transport.refused is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return transport.refused


def _limits(mode: str) -> str:
    """What enforces tasks' cpus and mem here (the executors detect the same)."""
    from actors.executor.limits import detect_limits

    try:
        return detect_limits(mode).describe()
    except (RuntimeError, OSError) as err:
        return f"unusable: {err}"


def _attributes(text: str) -> str:
    from actors.agent.config import ConfigError, parse_attributes

    try:
        parse_attributes(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--attributes: ")) from None
    return text


def _size(text: str) -> int:
    from actors.fetcher.config import parse_size

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value
