"""`mesobus demo [--agents 3] [--tasks 30]`: an embedded cluster runs a batch of shell tasks.

The sample batch framework (actors/frameworks/batch.py) spreads real shell commands
over the agents; a few of them fail on their first try and are retried. Progress is one
updating line on a terminal (plain lines otherwise), then a summary: tasks per state,
per agent, and the wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import tempfile
import threading
import time
from typing import IO, TYPE_CHECKING

from actors.cli.common import (
    Refused, add_broker, exit_code_for, fail, journal_problem, positive_int, signal_name, sole_leader_lock,
    stop_in_order,
)
from actors.journal.setup import add_journal_flags, setting_from

if TYPE_CHECKING:
    from actors.journal.setup import JournalSetting


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="watch an embedded cluster run a batch of shell tasks", description=__doc__)
    add_broker(p, required=False, allow_memory=True,
               help="run the demo cluster on this broker instead of in memory")
    p.add_argument("--agents", type=positive_int, default=3, metavar="N", help="how many agents (default: 3)")
    p.add_argument("--tasks", type=positive_int, default=30, metavar="N", help="how many tasks (default: 30)")
    p.add_argument("--retries", type=int, default=2, metavar="N", help="retries per failed task (default: 2)")
    add_journal_flags(p, stream=True)
    p.set_defaults(handler=run, _parser=p, embedded_logs=True)


def demo_commands(count: int, marker_dir: str) -> list[str]:
    """`count` shell commands; every seventh fails on its first try (a marker file
    remembers the try), so the demo shows retries.

    >>> cmds = demo_commands(8, "/tmp/m")
    >>> len(cmds), "exit 1" in cmds[3], "exit 1" in cmds[0]
    (8, True, False)
    """
    commands = []
    for i in range(count):
        work = f"sleep 0.{(i * 37) % 10}; echo task {i} on $(hostname) sum=$(( {i} * {i} ))"
        if i % 7 == 3:
            marker = shlex.quote(f"{marker_dir}/task-{i}")
            work = f"if [ ! -e {marker} ]; then touch {marker}; echo flaky >&2; exit 1; fi; {work}"
        commands.append(work)
    return commands


def run(args: argparse.Namespace) -> int:
    if args.retries < 0:
        args._parser.error("--retries must be >= 0")
    journal_setting, kept_dir = _journal_setting(args)
    problem = journal_problem(args)
    if problem:
        return fail("mesobus demo", problem, 1)
    # A demo on a broker starts its own master: refuse beside a master that leads there.
    try:
        lock = sole_leader_lock("mesobus demo", args.broker)
    except Refused as refused:
        return fail("mesobus demo", str(refused), 1)
    try:
        return _run_demo(args, journal_setting, kept_dir)
    finally:
        if lock is not None:
            lock.close()


def _run_demo(args: argparse.Namespace, journal_setting: "JournalSetting", kept_dir: str | None) -> int:
    from actors.cluster import LocalCluster
    from actors.frameworks.batch import BatchScheduler

    err = sys.stderr
    display = _Display(err, live=err.isatty())
    with tempfile.TemporaryDirectory(prefix="mesobus-demo-") as markers, LocalCluster(
        agents=args.agents, transport=args.broker, journal=journal_setting
    ) as cluster:
        print(f"mesobus demo: {args.agents} agent(s), {args.tasks} task(s); sandboxes in {cluster.work_dir}", file=err)
        handle = BatchScheduler.run(
            cluster,
            name="mesobus-demo",
            commands=demo_commands(args.tasks, markers),
            max_retries=args.retries,
            on_progress=display.show,
        )
        try:
            while not handle.join(0.2):
                display.tick()
        except KeyboardInterrupt as interrupt:
            display.end()
            kept = f" (journal: {journal_setting.path})" if kept_dir else ""
            print(f"mesobus demo: {signal_name(interrupt)}: stopping the framework, then the cluster{kept}", file=err)
            stop_in_order(handle, cluster)
            return exit_code_for(interrupt)
        display.end()
        progress = handle.scheduler.progress()
        journal = cluster.journal.description if cluster.journal is not None else None
    _summary(progress, sys.stdout)
    if journal is not None:
        print(f"  journal: {journal}", file=sys.stdout)
        if journal.startswith("file "):
            print(f"    try: mesobus log show --file {journal[5:]} | head;"
                  f" mesobus replay --file {journal[5:]} --actor all", file=sys.stdout)
        if kept_dir:
            print(f"    (in {kept_dir}: remove it when done)", file=sys.stdout)
    return 0 if progress.failed == 0 else 1


def _journal_setting(args: argparse.Namespace) -> "tuple[JournalSetting, str | None]":
    """--journal FILE, --no-journal, or (embedded, by default) a file in a new temporary
    directory that outlives the demo and is named in the summary: nothing is written to
    the current directory unasked. On a broker the default is the stream."""
    setting = setting_from(args)
    embedded = not args.broker or args.broker.startswith("memory")
    if not setting.enabled or setting.path is not None or not embedded:
        return setting, None
    kept = tempfile.mkdtemp(prefix="mesobus-demo-journal-")
    return dataclasses.replace(setting, path=os.path.join(kept, "journal.msgpack")), kept


class _Display:
    """One updating line on a terminal; a plain line per event otherwise."""

    def __init__(self, out: IO[str], live: bool) -> None:
        self.out, self.live = out, live
        self.latest = None
        self.lock = threading.Lock()
        self._last_event = ""

    def show(self, progress) -> None:
        with self.lock:
            self.latest = progress
            if self.live:
                self._draw()
            elif progress.last and progress.last != self._last_event:
                self._last_event = progress.last
                print(f"{progress.line()}  {progress.last}", file=self.out, flush=True)

    def tick(self) -> None:
        if self.live and self.latest is not None:
            with self.lock:
                self._draw()

    def end(self) -> None:
        if self.live:
            print(file=self.out, flush=True)

    def _draw(self) -> None:
        p = self.latest
        elapsed = time.monotonic() - p.started_at
        bar_width = 20
        filled = int(bar_width * (p.finished + p.failed) / p.total)
        running = p.states.get("TASK_RUNNING", 0) + p.states.get("TASK_STARTING", 0) + p.states.get("TASK_STAGING", 0)
        line = (
            f"[{'#' * filled}{'.' * (bar_width - filled)}] {p.finished + p.failed}/{p.total}"
            f"  running {running}  retries {p.retries}  failed {p.failed}  {elapsed:5.1f}s"
        )
        self.out.write("\r\x1b[2K" + line)
        self.out.flush()


def _summary(p, out: IO[str]) -> None:
    print(f"\nmesobus demo: {p.total} task(s) in {p.elapsed:.1f}s", file=out)
    print("  by state:", file=out)
    for state, n in sorted(p.states.items()):
        print(f"    {state:<16} {n}", file=out)
    print(f"  retries: {p.retries}", file=out)
    print("  runs per agent (latest try of each task):", file=out)
    for agent, n in sorted(p.per_agent.items()):
        print(f"    {agent:<24} {n}", file=out)
