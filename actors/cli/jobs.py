"""`mesobus jobs`: scheduled and dependent batch jobs through Chronos' REST API.

Without --broker: an embedded cluster of N agents in this process (a try-out; jobs are
kept in a state file). With --broker: a framework on that cluster; run it on several
hosts, one leads, the others redirect to it and take over (same framework id, running
tasks kept, no run lost or repeated). See docs/jobs.md.

    mesobus jobs --http 127.0.0.1:4400
    curl -X POST localhost:4400/v1/scheduler/iso8601 -H 'Content-Type: application/json' \\
         -d '{"name": "hello", "command": "echo hello", "schedule": "R//PT10S", "owner": ""}'
"""

from __future__ import annotations

import argparse
import os

from actors.cli.common import add_broker, positive_int

CREDENTIALS_ENV = "MESOBUS_HTTP_CREDENTIALS"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="run scheduled batch jobs with Chronos' API", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_broker(p, required=False)
    p.add_argument("--http", default="127.0.0.1:4400", metavar="HOST:PORT",
                   help="where the API listens (default: 127.0.0.1:4400)")
    p.add_argument("--agents", type=positive_int, default=3, metavar="N",
                   help="agents of the embedded cluster, without --broker (default: 3)")
    p.add_argument("--role", default="*", help="the role the framework gets offers for (default: *)")
    p.add_argument("--name", default="jobs", help="the framework's name; also names its state and its "
                   "leader lock (default: jobs)")
    p.add_argument("--epsilon", default=None, metavar="DURATION",
                   help="how late a run may start before it is skipped, for jobs without their own epsilon "
                        "(an ISO 8601 duration such as PT1M; default: the job's period)")
    p.add_argument("--state-dir", default=None, metavar="DIR",
                   help="where the embedded mode keeps its state (default: ~/.local/state/mesobus)")
    p.add_argument("--http-credentials", default=os.environ.get(CREDENTIALS_ENV) or None, metavar="USER:PASSWORD",
                   help=f"require HTTP basic auth (default: ${CREDENTIALS_ENV}, else none)")
    p.set_defaults(handler=run, _parser=p, embedded_logs=True)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from datetime import datetime, timezone

    from actors.cli.common import fail
    from actors.frameworks.hosting import host_framework
    from actors.frameworks.jobs import SPEC
    from actors.frameworks.jobs.schedule import ScheduleError, parse_period

    prog = "mesobus jobs"
    name = args.name.strip()
    if not name or any(not (c.isalnum() or c in "-_") for c in name) or len(name) > 100:
        return fail(prog, f"--name {args.name!r}: use letters, digits, '-' and '_'", 2)
    if not args.role or any(c.isspace() or c == "/" for c in args.role):
        return fail(prog, f"--role {args.role!r}: not a role name", 2)
    epsilon = None
    if args.epsilon is not None:
        try:
            period = parse_period(args.epsilon, "--epsilon")
        except ScheduleError as err:
            return fail(prog, str(err), 2)
        base = datetime(2000, 1, 1, tzinfo=timezone.utc)
        epsilon = ((base + period) - base).total_seconds()
    spec = replace(SPEC, name=name, scheduler_kwargs={**SPEC.scheduler_kwargs, "epsilon": epsilon})
    return host_framework(spec, prog=prog, broker=args.broker, http=args.http, agents=args.agents,
                          role=args.role, state_dir=args.state_dir, credentials=args.http_credentials)
