"""`mesobus services`: long-running apps through Marathon's v2 REST API.

Without --broker: an embedded cluster of N agents in this process (a try-out; apps are
kept in a state file, tasks end with the process). With --broker: a framework on that
cluster; run it on several hosts, one leads, the others forward requests to it and take
over (same framework id, running tasks kept). See docs/services.md.

    mesobus services --http 127.0.0.1:8080
    curl -X POST localhost:8080/v2/apps -H 'Content-Type: application/json' \\
         -d '{"id": "/web", "cmd": "python3 -m http.server $PORT0", "instances": 2, "mem": 64}'
"""

from __future__ import annotations

import argparse

from actors.cli.framework_flags import add_framework_flags, framework_flags_problem, host


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("services", help="run apps with Marathon's API", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_framework_flags(p, name="services", http="127.0.0.1:8080", auth_note="; /ping stays open")
    p.set_defaults(handler=run, _parser=p, embedded_logs=True)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from actors.frameworks.services import SPEC

    prog = "mesobus services"
    problem = framework_flags_problem(prog, args)
    if problem is not None:
        return problem
    return host(replace(SPEC, name=args.name), prog, args)
