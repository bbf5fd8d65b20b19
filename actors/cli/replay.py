"""`mesobus replay`: re-run an actor from the journal and compare what it sends.

    mesobus replay --file journal.msgpack --actor master
    mesobus replay --broker amqp://... --actor agent.a1 --until m-77 --show-state
    mesobus replay --file journal.msgpack --actor all

Exits 0 when every output matched the recording; 1 at the first divergence (printed:
the input being handled, the expected and the actual output), when the journal lacks
part of an actor's history (an export that starts after the actor did), or when the
journal cannot be read; 2 for options that name nothing in the journal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from actors.cli.common import add_broker, fail
from actors.journal import Incarnation, JournalIndex, ReplayResult, replay
from actors.journal.replay import REPLAYABLE
from actors.journal.source import open_journal

PROG = "mesobus replay"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="re-run an actor from the journal", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", metavar="PATH", help="read a journal file")
    add_broker(p, required=False, help="read the journal stream on this broker")
    p.add_argument("--actor", required=True,
                   help="master, allocator, agent.<id>, or all (every replayable actor)")
    p.add_argument("--until", metavar="MSG_ID", help="stop after handling this message (one --actor only)")
    p.add_argument("--incarnation", type=int, default=-1,
                   help="which run of the actor, if it restarted (0 = first, -1 = last)")
    p.add_argument("--show-state", action="store_true", help="print the actor's state at the end")
    p.set_defaults(handler=run)


class UsageError(Exception):
    """An option that names nothing in this journal (exit 2)."""


def run(args: argparse.Namespace) -> int:
    if args.until and args.actor == "all":
        return fail(PROG, "--until names one actor's input: give --actor ADDRESS with it", 2)
    try:
        index = JournalIndex(open_journal(file=args.file, broker=args.broker, warn=_warn))
    except (ValueError, OSError) as err:
        return fail(PROG, str(err))
    try:
        chosen = [(address, _incarnation(index, address, args.incarnation)) for address in _actors(index, args.actor)]
        if args.until:
            _check_until(index, args.actor, chosen[0][1], args.until)
    except UsageError as err:
        return fail(PROG, str(err), 2)
    if not chosen:
        return fail(PROG, "the journal holds the start of no replayable actor (master, allocator, agent): "
                          "it begins after they started; replay a journal or an export that starts earlier")
    worst = 0
    try:
        for address, _run in chosen:
            try:
                result = replay(index, address, until=args.until, incarnation=args.incarnation)
            except Exception as err:  # noqa: BLE001  a start record this version cannot rebuild from
                return fail(PROG, f"cannot rebuild {address} from its start record: {type(err).__name__}: {err}")
            worst = max(worst, _print(result))
            if args.show_state and result.state is not None:
                print(json.dumps(result.state, indent=2, default=str, sort_keys=True))
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` has read enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return worst


def _warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr)


def _actors(index: JournalIndex, actor: str) -> list[str]:
    known = index.actors()
    if actor != "all":
        if actor not in known:
            raise UsageError(f"--actor {actor}: no recorded start of {actor!r} in the journal "
                             f"(recorded actors: {', '.join(known) or 'none'}; a journal or an export "
                             f"that begins after an actor started does not hold its start)")
        kind = index.incarnations[actor][-1].info.kind
        if kind not in REPLAYABLE:
            raise UsageError(f"--actor {actor}: actors of kind {kind!r} cannot be replayed "
                             f"(replayable: {', '.join(REPLAYABLE)})")
        return [actor]
    return [a for a in known if index.incarnations[a][-1].info.kind in REPLAYABLE]


def _incarnation(index: JournalIndex, address: str, number: int) -> Incarnation:
    runs = index.incarnations[address]
    if not -len(runs) <= number < len(runs):
        runs_text = "once (0, or -1 for the last)" if len(runs) == 1 else f"{len(runs)} times (0..{len(runs) - 1}, or -1 for the last)"
        raise UsageError(f"--incarnation {number}: {address} started {runs_text} in this journal")
    return runs[number]


def _check_until(index: JournalIndex, address: str, run: Incarnation, until: str) -> None:
    if any(msg_id == until for msg_id, _ in run.handled):
        return
    if until not in index.by_id:
        raise UsageError(f"--until {until}: no message with this id in the journal")
    raise UsageError(f"--until {until}: {address} did not handle this message (in the incarnation "
                     f"replayed); `mesobus log show --actor {address}` lists its messages")


def _print(result: ReplayResult) -> int:
    """One line per actor (and a divergence's report); the exit code it calls for."""
    address = result.address
    if result.divergence is not None:
        print(f"{address}: DIVERGED after {result.inputs} inputs")
        print("\n".join("  " + text for text in result.divergence.report()))
        return 1
    if result.incomplete and not result.inputs:
        print(f"{address}: cannot replay: {result.incomplete}")
        return 1
    if result.incomplete:
        print(f"{address}: stopped after {result.inputs} inputs, {result.outputs} outputs identical: {result.incomplete}")
        return 1
    if not result.inputs:
        print(f"{address}: matched: its start-up; the journal records no input handled after it")
    else:
        print(f"{address}: matched: {result.inputs} inputs replayed, {result.outputs} outputs identical")
    return 0
