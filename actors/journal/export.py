"""`mesobus log export`: copy a window of the journal to a file that can be read and
replayed elsewhere.

Replaying an actor needs its whole history from its start. An export therefore holds
each actor's `ActorStarted` record only where it also holds that history: actors that
started inside the window, and actors that started before it but had handled nothing
yet (with the messages they sent while starting). An actor that was already at work
when the window began cannot be replayed from the export: its start is left out, so
`mesobus replay` says it has no start for it instead of reporting a false divergence,
and the summary names those actors and the `--since` that would include them. Inputs
that the window's handling records name but that were sent before it (a message that
waited in a mailbox) are kept too.

>>> from messages import Envelope, PingAgent
>>> class Out:
...     def __init__(self): self.ids = []
...     def tap(self, env, body): self.ids.append(env.id)
>>> records = [Envelope(id=f"m{i}", sender="a", target="b", body=PingAgent(), sent_at=float(i))
...            for i in range(5)]
>>> head, body = Out(), Out()
>>> export_window(records, head, body, since=2.0, until=3.0).written, body.ids
(2, ['m2', 'm3'])
"""

from __future__ import annotations

import os
import shutil
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from messages import JOURNAL, ActorStarted, Envelope, InputsHandled, encode

from actors.journal.file import FileJournal

LOOKBACK = 100_000  # messages before the window kept in memory, for inputs handled inside it


class Sink(Protocol):
    def tap(self, envelope: Envelope, body: bytes) -> None: ...


@dataclass
class ExportSummary:
    written: int = 0
    # runs of actors already at work when the window began: id prefix -> (address, start time)
    not_replayable: dict[str, tuple[str, float]] = field(default_factory=dict)


@dataclass
class _Early:
    """An actor run that started before the window: its start and what it sent starting."""

    started: Envelope
    startup: list[Envelope] = field(default_factory=list)
    busy: bool = False  # it handled or recorded something before the window

    @property
    def info(self) -> ActorStarted:
        return self.started.body


def export_window(
    records: Iterable[Envelope],
    head: Sink,
    body: Sink,
    *,
    since: float | None = None,
    until: float | None = None,
    first: int = 0,
    last: int | None = None,
) -> ExportSummary:
    """The records in [since, until] and offsets [first, last] go to `body`, as they come;
    the starts of earlier actors that replay can rebuild go to `head` at the end (a file
    export puts them first). See the module's docstring."""
    summary = ExportSummary()
    early: dict[str, _Early] = {}  # id prefix -> an actor run that started before the window
    recent: OrderedDict[str, Envelope] = OrderedDict()  # messages before the window, by id
    written: set[str] = set()
    window_start = since

    def write(sink: Sink, env: Envelope) -> None:
        if env.target != JOURNAL:
            if env.id in written:
                return
            written.add(env.id)
        sink.tap(env, encode(env))
        summary.written += 1

    for offset, env in enumerate(records):
        before = offset < first or (since is not None and env.sent_at < since)
        after = (last is not None and offset > last) or (until is not None and env.sent_at > until)
        if not before and not after:
            window_start = env.sent_at if window_start is None else window_start
            write(body, env)
            if isinstance(env.body, InputsHandled):
                run = early.get(env.id.rpartition(".j")[0])
                if run is not None and any(at < window_start for at in env.body.times):
                    run.busy = True  # these handlings happened before the window
                for msg_id in env.body.ids:
                    waiting = recent.pop(msg_id, None)
                    if waiting is not None:
                        write(body, waiting)
        elif not before:
            continue  # after the window
        elif env.target == JOURNAL and isinstance(env.body, ActorStarted):
            early[env.body.id_prefix] = _Early(env)
        elif env.target == JOURNAL:
            run = early.get(env.id.rpartition(".j")[0])
            if run is not None:
                run.busy = True  # its history before the window is not in the export
        else:
            run = early.get(env.id.rpartition("-")[0])
            if run is not None and env.sender == run.info.address:
                if env.causation_id:
                    run.busy = True  # sent while handling something
                else:
                    run.startup.append(env)
            recent[env.id] = env
            if len(recent) > LOOKBACK:
                recent.popitem(last=False)
    for prefix, run in early.items():
        if run.busy:
            summary.not_replayable[prefix] = (run.info.address, run.info.started_at)
            continue
        for env in [run.started, *run.startup]:  # the file's first records: none is a duplicate there
            head.tap(env, encode(env))
            summary.written += 1
    return summary


def export_to_file(records: Iterable[Envelope], path: str, **window: float | int | None) -> ExportSummary:
    """`export_window` into the file at `path`, replaced only once the export is complete
    (the starts first, then the window)."""
    head_path, body_path = path + ".partial", path + ".partial-window"
    try:
        for stale in (head_path, body_path):
            if os.path.isfile(stale):
                os.remove(stale)
        with FileJournal(head_path) as head, FileJournal(body_path) as body:
            summary = export_window(records, head, body, **window)  # type: ignore[arg-type]
        with open(head_path, "ab") as out, open(body_path, "rb") as window_file:
            shutil.copyfileobj(window_file, out, 1 << 20)
        os.replace(head_path, path)
        return summary
    finally:
        for leftover in (head_path, body_path):
            if os.path.isfile(leftover):
                os.remove(leftover)
