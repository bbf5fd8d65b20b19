"""`mesobus`: run a master, an agent, an embedded cluster, one command, or the demo.

>>> main(["--version"])  # doctest: +SKIP
mesobus 0.1.0

Each subcommand is a module of this package with `register(subparsers)` (adding its
parser, with `handler=run`) and `run(args) -> int`. Modules listed in COMMANDS come first;
any other module here that has `register` is added after them (e.g. `log`, `replay`).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

from actors.cli.common import (
    Parser, broker_error_line, exit_code_for, quiet_broker_errors, raise_on_sigterm, setup_logging, signal_name,
)
from actors.runtime import TransportError

COMMANDS = ("master", "agent", "local", "run", "demo")
_NOT_COMMANDS = {"main", "common", "__init__"}
VERSION = "0.1.0"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mesobus",
        description="A Mesos-style cluster manager on RabbitMQ.",
        epilog="Run `mesobus COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"mesobus {VERSION}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]) and run the command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    setup_logging(args.verbose, embedded=getattr(args, "embedded_logs", False))
    quiet_broker_errors(args.verbose, embedded=getattr(args, "embedded_logs", False))
    prog = f"mesobus {handler.__module__.rsplit('.', 1)[-1]}"
    raise_on_sigterm()  # SIGTERM unwinds like Ctrl-C: what a command started is stopped
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt as interrupt:  # a command that did not say it itself
        print(f"{prog}: {signal_name(interrupt)}: stopped", file=sys.stderr)
        return exit_code_for(interrupt)
    except TransportError as err:  # the broker refused or is gone: one line, not a traceback
        print(f"{prog}: error: {broker_error_line(err)}", file=sys.stderr)
        return 1


def _command_modules() -> list[ModuleType]:
    names = list(COMMANDS)
    package = importlib.import_module("actors.cli")
    extra = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in _NOT_COMMANDS)
    names += [n for n in extra if n not in names]
    modules = []
    for name in names:
        module = importlib.import_module(f"actors.cli.{name}")
        if hasattr(module, "register"):
            modules.append(module)
    return modules


if __name__ == "__main__":
    sys.exit(main())
