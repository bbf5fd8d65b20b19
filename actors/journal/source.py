"""Where a journal is read from: a file, or the broker's stream; with time and offset
ranges. `--since`/`--until` take ISO 8601 times or seconds since the epoch.

>>> parse_time("1700000000.5")
1700000000.5
>>> parse_time("2023-11-14T22:13:20Z")
1700000000.0
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Callable, Iterator

from messages import Envelope

from actors.journal.file import read_journal_file


def parse_time(text: str) -> float:
    """An ISO 8601 time (naive = UTC) or epoch seconds; ValueError names the text."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO 8601 time nor seconds since the epoch") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def open_journal(*, file: str | None = None, broker: str | None = None, follow: bool = False,
                 since: float | None = None, warn: Callable[[str], None] | None = None) -> Iterator[Envelope]:
    """The journal's records from a file or from the broker's stream (from `since` on,
    where the stream can seek by time). Without `follow`, the records there are when it
    is called; `warn` is told of records skipped. Raises JournalError (a ValueError)
    naming the source and the problem."""
    if file:
        return read_journal_file(file, follow=follow, **({"warn": warn} if warn else {}))
    if broker:
        from rabbitmq.journal import read_stream  # the only AMQP code stays in rabbitmq/

        return read_stream(broker, start=since if since is not None else "first", follow=follow, warn=warn,
                           master_principal=os.environ.get("MESOBUS_MASTER_PRINCIPAL") or None)
    raise ValueError("give --file PATH or --broker URL (or set $MESOBUS_BROKER)")
