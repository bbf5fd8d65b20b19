"""`mesobus log show|trace|explain|export`: read the message journal.

    mesobus log show --file journal.msgpack --task t-12
    mesobus log trace t-12 --broker amqp://...
    mesobus log explain --framework f-1 --file journal.msgpack
    mesobus log export --since 2026-11-25T10:00:00 --out bug-1234.msgpack --broker amqp://...
"""

from __future__ import annotations

import argparse
import os
import sys

from actors.cli.common import add_broker, fail
from actors.journal import JournalIndex
from actors.journal.explain import explain
from actors.journal.export import export_to_file
from actors.journal.replay import moment
from actors.journal.source import open_journal, parse_time
from actors.journal.timeline import Filter, line, select
from actors.journal.trace import trace


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _offset(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an offset (a whole number >= 0)")
    return int(text)


def _message_type(text: str) -> str:
    from messages import CATALOGUE

    if text not in CATALOGUE:
        close = [name for name in CATALOGUE if name.lower() == text.lower()] or [
            name for name in CATALOGUE if text.lower() in name.lower()]
        hint = f"did you mean {', '.join(sorted(close)[:4])}?" if close else "e.g. StatusUpdate, ResourceOffers"
        raise argparse.ArgumentTypeError(f"{text!r} is not a message type ({hint})")
    return text


def _ranges(args: argparse.Namespace) -> str | None:
    """What is wrong with the time and offset range, if anything."""
    if args.since is not None and args.until is not None and args.since > args.until:
        return "--since is after --until: the window is empty"
    if args.to_offset is not None and args.to_offset < args.from_offset:
        return "--to-offset is before --from-offset: the range is empty"
    return None


def _source_args(p: argparse.ArgumentParser, *, ranges: bool = True) -> None:
    p.add_argument("--file", metavar="PATH", help="read a journal file (embedded runs, exports)")
    add_broker(p, required=False, help="read the journal stream on this broker")
    if ranges:
        p.add_argument("--since", type=_time, metavar="TIME", help="ISO 8601 or epoch seconds")
        p.add_argument("--until", type=_time, metavar="TIME", help="ISO 8601 or epoch seconds")
        p.add_argument("--from-offset", type=_offset, default=0, metavar="N")
        p.add_argument("--to-offset", type=_offset, default=None, metavar="N")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("log", help="read the message journal", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(title="verbs", metavar="VERB", parser_class=type(parser))
    parser.set_defaults(handler=lambda args: fail("mesobus log", "give a verb: show, trace, explain or export", 2))

    show = verbs.add_parser("show", help="a readable timeline, one line per message")
    _source_args(show)
    show.add_argument("--actor", help="messages from or to this actor (e.g. master, agent.a1, agent)")
    show.add_argument("--type", type=_message_type, help="only this message type (e.g. StatusUpdate)")
    show.add_argument("--task", help="messages about this task id")
    show.add_argument("--framework", help="messages from, to or about this framework id")
    show.add_argument("--journal-records", action="store_true", help="include actors' own journal records")
    show.add_argument("--follow", action="store_true",
                      help="keep printing new messages, like tail -f (without it: up to the last record now)")
    show.set_defaults(handler=run_show)

    tr = verbs.add_parser("trace", help="the causal chain of a message or a task, as a tree")
    tr.add_argument("id", help="a message id or a task id")
    _source_args(tr, ranges=False)
    tr.set_defaults(handler=run_trace)

    ex = verbs.add_parser("explain", help="why a framework did or did not get offers")
    ex.add_argument("--framework", required=True, help="the framework id")
    _source_args(ex, ranges=False)
    ex.set_defaults(handler=run_explain)

    out = verbs.add_parser("export", help="copy a time window of the journal to a file")
    _source_args(out)
    out.add_argument("--out", required=True, metavar="PATH", help="the file to write")
    out.set_defaults(handler=run_export)


def _prog(args: argparse.Namespace) -> str:
    return f"mesobus log {args.handler.__name__.removeprefix('run_')}"


def _records(args: argparse.Namespace, follow: bool = False, since: float | None = None):
    def warn(text: str) -> None:
        print(f"{_prog(args)}: warning: {text}", file=sys.stderr)

    return open_journal(file=args.file, broker=args.broker, follow=follow, since=since, warn=warn)


def _index(args: argparse.Namespace) -> JournalIndex:
    return JournalIndex(_records(args))


def run_show(args: argparse.Namespace) -> int:
    if args.follow and args.until is not None:
        return fail(_prog(args), "--follow keeps reading new messages and --until ends at a time: give one of them", 2)
    if _ranges(args):
        return fail(_prog(args), _ranges(args), 2)
    flt = Filter(args.actor, args.type, args.task, args.framework, args.since, args.until,
                 include_journal=args.journal_records)
    try:
        records = _records(args, args.follow, since=args.since)
        for _offset, env in select(records, flt, args.from_offset, args.to_offset):
            print(line(env), flush=args.follow)
    except BrokenPipeError:  # `| head` has read enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (ValueError, OSError) as err:
        return fail(_prog(args), str(err))
    return 0


def _print_lines(lines: list[str]) -> None:
    try:
        print("\n".join(lines))
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` has read enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run_trace(args: argparse.Namespace) -> int:
    try:
        _print_lines(trace(_index(args), args.id))
    except KeyError as err:
        return fail(_prog(args), err.args[0])
    except (ValueError, OSError) as err:
        return fail(_prog(args), str(err))
    return 0


def run_explain(args: argparse.Namespace) -> int:
    try:
        _print_lines(explain(_index(args), args.framework))
    except KeyError as err:
        return fail(_prog(args), err.args[0])
    except (ValueError, OSError) as err:
        return fail(_prog(args), str(err))
    return 0


def run_export(args: argparse.Namespace) -> int:
    """The window's records plus what replay needs from before it (actors/journal/export.py).
    Reads the journal from its start: the actors' start records come before any window."""
    if os.path.exists(args.out) and not os.path.isfile(args.out):
        return fail(_prog(args), f"--out {args.out}: not a regular file", 2)
    if _ranges(args):
        return fail(_prog(args), _ranges(args), 2)
    try:
        summary = export_to_file(_records(args), args.out, since=args.since, until=args.until,
                                 first=args.from_offset, last=args.to_offset)
    except (ValueError, OSError) as err:
        return fail(_prog(args), str(err))
    print(f"wrote {summary.written} records to {args.out}", file=sys.stderr)
    if summary.not_replayable:
        actors = sorted({address for address, _ in summary.not_replayable.values()})
        earliest = min(at for _, at in summary.not_replayable.values())
        print(f"note: {len(actors)} actor(s) were at work before the window and cannot be replayed from this export "
              f"({', '.join(actors[:5])}{' ...' if len(actors) > 5 else ''}); "
              f"an export with --since {moment(earliest)} can replay them", file=sys.stderr)
    return 0
