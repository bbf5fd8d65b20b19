"""Turning the journal on for a process: a file tap on an embedded transport, or the
broker's stream (or a file fed from the broker), per the `--journal` flags.

>>> setting = JournalSetting(path=None, enabled=False)
>>> start_journal(setting, transport=None) is None
True
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

from actors.journal.file import FileJournal
from actors.runtime import MemoryTransport, Transport

log = logging.getLogger(__name__)

DEFAULT_FILE = "mesobus-journal.msgpack"  # embedded runs, in the current directory
SIZE_UNITS = {"": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


@dataclass(frozen=True)
class JournalSetting:
    path: str | None  # a file; None: the broker's stream (or the default file when embedded)
    enabled: bool = True
    max_age: str = "7D"  # stream retention, RabbitMQ's x-max-age syntax (Y, M, D, h, m, s)
    max_bytes: int = 5 * 10**9


def parse_size(text: str) -> int:
    """'5GB' -> 5000000000; ArgumentTypeError names the text."""
    value = text.strip().upper()
    for unit in sorted(SIZE_UNITS, key=len, reverse=True):
        if unit and value.endswith(unit):
            number = value[: -len(unit)]
            break
    else:
        unit, number = "", value
    if not number.isdigit() or int(number) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 500MB, 5GB)")
    return int(number) * SIZE_UNITS[unit]


def parse_age(text: str) -> str:
    if not re.fullmatch(r"\d+[YMDhms]", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an age (e.g. 7D, 12h, 30m)")
    return text


def add_journal_flags(parser: argparse.ArgumentParser, *, stream: bool) -> None:
    """--journal PATH / --no-journal (and, where a broker is used, stream retention)."""
    group = parser.add_mutually_exclusive_group()
    where = "the broker's stream mesobus.journal (embedded: ./" + DEFAULT_FILE + ")" if stream else "./" + DEFAULT_FILE
    group.add_argument("--journal", metavar="PATH", default=None,
                       help=f"write the message journal to this file (default: {where})")
    group.add_argument("--no-journal", action="store_true", help="do not journal messages")
    if stream:
        parser.add_argument("--journal-max-age", type=parse_age, default="7D", metavar="AGE",
                            help="keep the stream's records this long (default: 7D)")
        parser.add_argument("--journal-max-bytes", type=parse_size, default=5 * 10**9, metavar="SIZE",
                            help="and at most this much (default: 5GB)")


def setting_from(args: argparse.Namespace) -> JournalSetting:
    return JournalSetting(
        path=args.journal,
        enabled=not args.no_journal,
        max_age=getattr(args, "journal_max_age", "7D"),
        max_bytes=getattr(args, "journal_max_bytes", 5 * 10**9),
    )


class JournalHandle:
    """What was started; `close()` flushes and stops it."""

    def __init__(self, description: str, parts: list[Any]) -> None:
        self.description = description
        self._parts = parts

    def close(self) -> None:
        for part in reversed(self._parts):
            part.stop() if hasattr(part, "stop") else part.close()


def start_journal(setting: JournalSetting, transport: Transport | None) -> JournalHandle | None:
    """Start journaling for the process that owns `transport`: a file tap when it is
    the in-memory transport, else the broker's stream (or a file fed from it). Returns
    None when the journal is off."""
    broker = getattr(transport, "config", None)  # an AmqpTransport's BrokerConfig
    if not setting.enabled:
        if broker is not None:
            from rabbitmq.journal import disable_stream

            disable_stream(broker)
            transport.stop_journal()  # type: ignore[union-attr]  # nothing gathered or encoded
        return None
    if broker is None:
        if not isinstance(transport, MemoryTransport):
            raise ValueError("an embedded journal needs the in-memory transport")
        path = setting.path or DEFAULT_FILE
        if setting.path is None and os.path.exists(path):
            os.remove(path)  # the default file holds the latest run only
        journal = FileJournal(path)
        transport.taps.append(journal.tap)
        return JournalHandle(f"file {path}", [journal])
    from rabbitmq.journal import StreamToFile, enable_stream

    if setting.path is None:
        enable_stream(broker, max_age=setting.max_age, max_bytes=setting.max_bytes)
        return JournalHandle("stream mesobus.journal", [])
    journal = FileJournal(setting.path)
    feed = StreamToFile(broker, journal).start()
    return JournalHandle(f"file {setting.path}", [journal, feed])
