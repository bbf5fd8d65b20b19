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

from actors.cli.framework_flags import add_framework_flags, framework_flags_problem, host


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="run scheduled batch jobs with Chronos' API", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_framework_flags(p, name="jobs", http="127.0.0.1:4400")
    p.add_argument("--epsilon", default=None, metavar="DURATION",
                   help="how late a run may start before it is skipped, for jobs without their own epsilon "
                        "(an ISO 8601 duration such as PT1M; default: the job's period)")
    p.set_defaults(handler=run, _parser=p, embedded_logs=True)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from datetime import datetime, timezone

    from actors.cli.common import fail
    from actors.frameworks.jobs import SPEC
    from actors.frameworks.jobs.schedule import ScheduleError, parse_period

    prog = "mesobus jobs"
    problem = framework_flags_problem(prog, args)
    if problem is not None:
        return problem
    epsilon = None
    if args.epsilon is not None:
        try:
            period = parse_period(args.epsilon, "--epsilon")
        except ScheduleError as err:
            return fail(prog, str(err), 2)
        base = datetime(2000, 1, 1, tzinfo=timezone.utc)
        epsilon = ((base + period) - base).total_seconds()
    spec = replace(SPEC, name=args.name, scheduler_kwargs={**SPEC.scheduler_kwargs, "epsilon": epsilon})
    return host(spec, prog, args)
