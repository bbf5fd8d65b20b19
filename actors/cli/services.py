"""`mesobus services`: long-running apps through Marathon's v2 REST API.

Without --broker: an embedded cluster of N agents in this process (a try-out; apps are
kept in a state file, tasks end with the process). With --broker: a framework on that
cluster; run it on several hosts, one leads, the others redirect to it and take over
(same framework id, running tasks kept). See docs/services.md.

    mesobus services --http 127.0.0.1:8080
    curl -X POST localhost:8080/v2/apps -H 'Content-Type: application/json' \\
         -d '{"id": "/web", "cmd": "python3 -m http.server $PORT0", "instances": 2, "mem": 64}'
"""

from __future__ import annotations

import argparse
import os

from actors.cli.common import add_broker, positive_int

CREDENTIALS_ENV = "MESOBUS_HTTP_CREDENTIALS"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("services", help="run apps with Marathon's API", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_broker(p, required=False)
    p.add_argument("--http", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="where the API listens (default: 127.0.0.1:8080)")
    p.add_argument("--agents", type=positive_int, default=3, metavar="N",
                   help="agents of the embedded cluster, without --broker (default: 3)")
    p.add_argument("--role", default="*", help="the role the framework gets offers for (default: *)")
    p.add_argument("--name", default="services", help="the framework's name; also names its state and its "
                   "leader lock, so two differently named instances are independent (default: services)")
    p.add_argument("--state-dir", default=None, metavar="DIR",
                   help="where the embedded mode keeps its state (default: ~/.local/state/mesobus)")
    p.add_argument("--http-credentials", default=os.environ.get(CREDENTIALS_ENV) or None, metavar="USER:PASSWORD",
                   help=f"require HTTP basic auth (default: ${CREDENTIALS_ENV}, else none; /ping stays open)")
    p.set_defaults(handler=run, _parser=p, embedded_logs=True)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from actors.cli.common import fail
    from actors.frameworks.hosting import host_framework
    from actors.frameworks.services import SPEC

    name = args.name.strip()
    if not name or any(not (c.isalnum() or c in "-_") for c in name) or len(name) > 100:
        return fail("mesobus services", f"--name {args.name!r}: use letters, digits, '-' and '_'", 2)
    if not args.role or any(c.isspace() or c == "/" for c in args.role):
        return fail("mesobus services", f"--role {args.role!r}: not a role name", 2)
    return host_framework(replace(SPEC, name=name), prog="mesobus services", broker=args.broker,
                          http=args.http, agents=args.agents, role=args.role, state_dir=args.state_dir,
                          credentials=args.http_credentials)
