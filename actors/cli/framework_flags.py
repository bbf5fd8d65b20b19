"""What `mesobus services` and `mesobus jobs` share on the command line: the flags of a
built-in framework hosted by actors.frameworks.hosting, and their checks.

Not a command itself (no `register`): each command adds its own flags after these.
"""

from __future__ import annotations

import argparse
import os

from actors.cli.common import add_broker, fail, positive_int

CREDENTIALS_ENV = "MESOBUS_HTTP_CREDENTIALS"


def add_framework_flags(p: argparse.ArgumentParser, *, name: str, http: str, auth_note: str = "") -> None:
    """--broker, --http, --agents, --role, --name, --state-dir, --http-credentials."""
    add_broker(p, required=False)
    p.add_argument("--http", default=http, metavar="HOST:PORT", help=f"where the API listens (default: {http})")
    p.add_argument("--agents", type=positive_int, default=3, metavar="N",
                   help="agents of the embedded cluster, without --broker (default: 3)")
    p.add_argument("--role", default="*", help="the role the framework gets offers for (default: *)")
    p.add_argument("--name", default=name, help="the framework's name; also names its state and its leader lock, "
                   f"so two differently named instances are independent (default: {name})")
    p.add_argument("--state-dir", default=None, metavar="DIR",
                   help="where the embedded mode keeps its state (default: ~/.local/state/mesobus)")
    p.add_argument("--http-credentials", default=os.environ.get(CREDENTIALS_ENV) or None, metavar="USER:PASSWORD",
                   help=f"require HTTP basic auth (default: ${CREDENTIALS_ENV}, else none{auth_note})")


def framework_flags_problem(prog: str, args: argparse.Namespace) -> int | None:
    """Exit code 2 with one line if --name or --role cannot be used; None if they can."""
    name = args.name.strip()
    if not name or any(not (c.isalnum() or c in "-_") for c in name) or len(name) > 100:
        return fail(prog, f"--name {args.name!r}: use letters, digits, '-' and '_'", 2)
    if not args.role or any(c.isspace() or c == "/" for c in args.role):
        return fail(prog, f"--role {args.role!r}: not a role name", 2)
    args.name = name
    return None


def host(spec, prog: str, args: argparse.Namespace) -> int:
    """Run the framework `spec` as the flags say (actors.frameworks.hosting)."""
    from actors.frameworks.hosting import host_framework

    return host_framework(spec, prog=prog, broker=args.broker, http=args.http, agents=args.agents,
                          role=args.role, state_dir=args.state_dir, credentials=args.http_credentials)
