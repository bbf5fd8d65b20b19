"""`mesobus demo [--agents 3] [--tasks 30]`: an embedded cluster runs a batch of shell tasks.

The sample batch framework (actors/frameworks/batch.py) spreads real shell commands
over the agents; a few of them fail on their first try and are retried. Progress is one
updating line on a terminal (plain lines otherwise), then a summary: tasks per state,
per agent, and the wall time.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import threading
import time
from typing import IO

from actors.cli.common import add_broker, positive_int
from actors.journal.setup import add_journal_flags, setting_from


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
    from actors.cluster import LocalCluster
    from actors.frameworks.batch import BatchScheduler

    out = sys.stderr
    display = _Display(out, live=out.isatty())
    with tempfile.TemporaryDirectory(prefix="mesobus-demo-") as markers, LocalCluster(
        agents=args.agents, transport=args.broker, journal=setting_from(args)
    ) as cluster:
        print(f"mesobus demo: {args.agents} agent(s), {args.tasks} task(s); sandboxes in {cluster.work_dir}", file=out)
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
        except KeyboardInterrupt:
            display.end()
            print("mesobus demo: interrupted; tearing the framework down", file=out)
            handle.stop()
            return 130
        display.end()
        progress = handle.scheduler.progress()
        journal = cluster.journal.description if cluster.journal is not None else None
    _summary(progress, out)
    if journal is not None:
        print(f"  journal: {journal}", file=out)
        if journal.startswith("file "):
            print(f"    try: mesobus log show --file {journal[5:]} | head;"
                  f" mesobus replay --file {journal[5:]} --actor all", file=out)
    return 0 if progress.failed == 0 else 1


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
