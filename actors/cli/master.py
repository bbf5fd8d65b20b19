"""`mesobus master --broker URL`: run the master and its allocator until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import sys

from actors.cli.common import add_broker, fail, redact, need_broker, positive_float, positive_int, wait_for_signal
from actors.journal.setup import add_journal_flags, setting_from, start_journal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("master", help="run the master (and its allocator)", description=__doc__)
    add_broker(p, required=True)
    p.add_argument("--ping-interval", type=positive_float, default=15.0, metavar="SECONDS",
                   help="how often agents are pinged (default: 15)")
    p.add_argument("--max-missed-pings", type=positive_int, default=5, metavar="N",
                   help="unanswered pings before an agent is unreachable (default: 5)")
    p.add_argument("--allocation-interval", type=positive_float, default=1.0, metavar="SECONDS",
                   help="time between batch allocations (default: 1)")
    p.add_argument("--offer-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="rescind offers outstanding this long (default: never)")
    p.add_argument("--hostname", default="", help="the hostname the master reports")
    add_journal_flags(p, stream=True)
    p.set_defaults(handler=run, _parser=p)


def run(args: argparse.Namespace) -> int:
    need_broker(args._parser, args)
    from actors.connect import connect_transport
    from actors.master import MasterConfig, start_master

    try:
        config = MasterConfig(
            hostname=args.hostname,
            ping_interval=args.ping_interval,
            max_missed_pings=args.max_missed_pings,
            allocation_interval=args.allocation_interval,
            offer_timeout=args.offer_timeout,
            explain_allocations=not args.no_journal,
        )
    except ValueError as err:
        return fail("mesobus master", str(err), 2)
    transport = connect_transport(args.broker)
    journal = None
    try:
        journal = start_journal(setting_from(args), transport)
        master_ref, allocator_ref = start_master(transport, config)
        where = journal.description if journal is not None else "off"
        print(f"mesobus master: running on {redact(args.broker)}; journal: {where}; Ctrl-C to stop", file=sys.stderr)
        how = wait_for_signal()
        print(f"mesobus master: {how}: stopping", file=sys.stderr)
        master_ref.stop()
        allocator_ref.stop()
    finally:
        transport.close()
        if journal is not None:
            journal.close()
    return 0

