"""`mesobus run [--broker URL] -- COMMAND...`: run one command as a task (mesos-execute).

Registers a one-shot framework, launches the command on the first offer that fits,
prints its state changes on stderr and its output (stdout to stdout, stderr to stderr),
and exits with the command's exit code. Without --broker (and $MESOBUS_BROKER) it starts
an embedded cluster with one agent.

One argument is a shell line (`mesobus run -- 'echo hi | wc -c'`); several are a command
and its arguments, quoted for the shell (`mesobus run -- sh -c 'echo hi; exit 3'`).

Output: with an embedded cluster it is read from the task's sandbox as it is written. On a
broker, the agent may be on another host: its executor streams the output here while the
task runs (messages/output.py); if the end does not come in time, or only the last 32 KiB
came with the final status, the command says so and where the sandbox is.

While it waits it says what for, once, then every 30 s (no broker, no master, no offer that fits,
a task still STAGING); --timeout gives up. SIGTERM acts as Ctrl-C: the task is killed,
temporary directories are removed, and the exit code is 143 (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from actors.cli.common import add_broker, positive_float


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one command as a task and wait for it", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_broker(p, required=False)
    p.add_argument("--cpus", type=positive_float, default=0.1, help="cpus for the task (default: 0.1)")
    p.add_argument("--mem", type=positive_float, default=32.0, help="memory in MB for the task (default: 32)")
    p.add_argument("--name", default="mesobus-run", help="the framework's and the task's name")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", type=_env_pair,
                   help="an environment variable for the command (repeatable)")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="give up (exit 1) if the task has not started within this time (default: wait)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print state changes")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND...", help="what to run")
    p.set_defaults(handler=run, _parser=p, embedded_logs=True)


def run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        args._parser.error("a command to run is required: mesobus run [options] -- COMMAND...")
    line = command[0] if len(command) == 1 else shlex.join(command)
    from actors.cli.runner import execute

    return execute(
        line,
        broker=args.broker,
        cpus=args.cpus,
        mem=args.mem,
        name=args.name,
        env=dict(args.env),
        quiet=args.quiet,
        timeout=args.timeout,
        out=sys.stdout,
        err=sys.stderr,
    )


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


