"""`mesobus local --agents N`: a master and N agents in this process until Ctrl-C / SIGTERM.

With --broker the cluster runs on RabbitMQ, and frameworks on any host can use it. Without,
it is embedded (memory://): only frameworks in this same process can reach it (see
`mesobus run` and `mesobus demo`, which start their own).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from actors.cli.http_option import OperatorHttp, add_http_flag
from actors.cli.common import (
    actor_death_line, add_broker, fail, positive_int, redact, resources_text, signal_exit_code, stop_on_actor_death,
    wait_for_signal,
)
from actors.journal.setup import add_journal_flags, setting_from
from actors.cli.common import Refused, journal_problem, sole_leader_lock  # noqa: I001  (checks before starting)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("local", help="run a master and N agents in one process", description=__doc__)
    add_broker(p, required=False, allow_memory=True)
    p.add_argument("--agents", type=positive_int, default=1, metavar="N", help="how many agents (default: 1)")
    p.add_argument("--resources", type=resources_text, default=None, metavar="TEXT",
                   help='what each agent offers (default: "cpus:2;mem:2048;disk:4096;ports:[31000-32000]")')
    p.add_argument("--work-dir", default=None, metavar="DIR", help="where sandboxes go (default: a temporary dir)")
    add_journal_flags(p, stream=True)
    add_http_flag(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.work_dir and os.path.exists(args.work_dir) and not os.path.isdir(args.work_dir):
        return fail("mesobus local", f"--work-dir {args.work_dir}: not a directory", 2)
    problem = journal_problem(args)
    if problem:
        return fail("mesobus local", problem, 1)
    # On a broker, this master must be the only one (of its vhost): take the leader lock
    # or fail at once, rather than stand by as `mesobus master` does.
    try:
        lock = sole_leader_lock("mesobus local", args.broker)
    except Refused as refused:
        return fail("mesobus local", str(refused), 1)
    try:
        return _run_cluster(args)
    finally:
        if lock is not None:
            lock.close()


def _run_cluster(args: argparse.Namespace) -> int:
    from actors.cluster import LocalCluster
    from actors.cluster.local import DEFAULT_AGENT_RESOURCES

    try:
        cluster = LocalCluster(
            agents=args.agents,
            transport=args.broker,
            agent_resources=args.resources or DEFAULT_AGENT_RESOURCES,
            work_dir=args.work_dir,
            journal=setting_from(args),
        )
    except ValueError as err:
        return fail("mesobus local", str(err), 2)
    with cluster:
        try:
            http = OperatorHttp(args.http, args.broker).start()
        except OSError as err:
            return fail("mesobus local", str(err), 1)
        http.lead(cluster.master_ref, cluster.transport, cluster.master_address, cluster.allocator_ref)
        where = redact(args.broker) if args.broker and not args.broker.startswith("memory") else "memory:// (embedded)"
        print(
            f"mesobus local: master and {args.agents} agent(s) on {where}; sandboxes in {cluster.work_dir};"
            " Ctrl-C to stop",
            file=sys.stderr,
        )
        if cluster.journal is not None:
            print(f"mesobus local: journal: {cluster.journal.description}", file=sys.stderr)
        stop = threading.Event()
        with stop_on_actor_death(stop):
            how = wait_for_signal(stop)
        died = actor_death_line()
        print(f"mesobus local: {f'error: {died}' if died else how}: stopping", file=sys.stderr)
        http.stop()
    return 1 if died else signal_exit_code(how)
