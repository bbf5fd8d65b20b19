"""`mesobus replay`: re-run an actor from the journal and compare what it sends.

    mesobus replay --file journal.msgpack --actor master
    mesobus replay --broker amqp://... --actor agent.a1 --until m-77 --show-state
    mesobus replay --file journal.msgpack --actor all

Exits 0 when every output matched the recording, 1 at the first divergence (printed:
the input being handled, the expected and the actual output).
"""

from __future__ import annotations

import argparse
import json

from actors.cli.common import add_broker, fail
from actors.journal import JournalIndex, replay
from actors.journal.replay import REPLAYABLE
from actors.journal.source import open_journal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="re-run an actor from the journal", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", metavar="PATH", help="read a journal file")
    add_broker(p, required=False, help="read the journal stream on this broker")
    p.add_argument("--actor", required=True,
                   help="master, allocator, agent.<id>, or all (every replayable actor)")
    p.add_argument("--until", metavar="MSG_ID", help="stop after handling this message")
    p.add_argument("--incarnation", type=int, default=-1,
                   help="which run of the actor, if it restarted (0 = first, -1 = last)")
    p.add_argument("--show-state", action="store_true", help="print the actor's state at the end")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        index = JournalIndex(open_journal(file=args.file, broker=args.broker))
    except (ValueError, OSError) as err:
        return fail("mesobus replay", str(err))
    if args.actor == "all":
        actors = [a for a in index.actors() if index.incarnations[a][-1].info.kind in REPLAYABLE]
    else:
        actors = [args.actor]
    worst = 0
    for address in actors:
        try:
            result = replay(index, address, until=args.until, incarnation=args.incarnation)
        except (KeyError, ValueError, IndexError) as err:
            return fail("mesobus replay", err.args[0] if err.args else str(err))
        if result.matched:
            print(f"{address}: matched: {result.inputs} inputs replayed, {result.outputs} outputs identical")
        else:
            worst = 1
            print(f"{address}: DIVERGED after {result.inputs} inputs")
            print("\n".join("  " + text for text in result.divergence.report()))
        if args.show_state:
            print(json.dumps(result.state, indent=2, default=str, sort_keys=True))
    return worst
