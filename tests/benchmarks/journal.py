"""The journal's benchmark: how fast a log replays, and what journaling costs.

    python tests/benchmarks/journal.py [--tasks 3000] [--cost-tasks 2000]

1. Replay speed: an embedded cluster (two agents in noop mode: tasks report RUNNING and
   FINISHED without a process) runs `--tasks` tasks with the journal on; then the file
   is read, indexed and every replayable actor (master, allocator, agents) is replayed
   and compared. The figure is replayed inputs per second, file reading included.
2. Journal cost: the cluster benchmark's no-op throughput on the real broker, measured
   in this run with the journal off and on (the stream), alternating.

The last line is one JSON object with `replay_msgs_per_s` and `journal_cost` (the
fraction of tasks per second lost with the journal on, medians of each arm) and
`journal_cost_paired` (the median of each round's own off/on pair), and `journal_cpu_cost`:
the CPU time per task that mesobus' processes spend more with the journal on (medians; a
loaded machine disturbs it far less than throughput). Off means off in every process: the
master with `--no-journal`, every process with `?journal=0`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors import Scheduler  # noqa: E402
from actors.cluster import LocalCluster  # noqa: E402
from actors.journal import JournalIndex, read_journal_file, replay  # noqa: E402
from messages import Resources  # noqa: E402

TASK = Resources.parse("cpus:0.01;mem:1")


class Flood(Scheduler):
    """Launches `tasks` tiny tasks as fast as offers allow; stops when all finished."""

    def __init__(self, tasks: int) -> None:
        super().__init__()
        self.left, self.total, self.done = tasks, tasks, 0

    def resource_offers(self, offers):
        for offer in offers:
            batch, free = [], offer.resources
            while self.left and free.contains(TASK):
                self.left -= 1
                batch.append(self.task(offer, "true", task_id=f"t{self.left}", resources=TASK))
                free = free - TASK
            self.launch(offer, batch)

    def status_update(self, status):
        if status.state.is_terminal:
            self.done += 1
            if self.done == self.total:
                self.stop()


def record(path: str, tasks: int) -> float:
    """Run the flood on an embedded cluster with the journal in `path`; seconds taken."""
    settings = {"executor_mode": "noop", "checkpoint": False}
    with LocalCluster(agents=2, agent_resources="cpus:8;mem:8192", journal=path, agent_settings=settings) as c:
        started = time.perf_counter()
        handle = Flood.run(c, name="flood", tasks=tasks)
        if not handle.join(600):
            raise SystemExit("the flood did not finish")
        return time.perf_counter() - started


def replay_all(path: str) -> dict:
    started = time.perf_counter()
    index = JournalIndex(read_journal_file(path))
    read_s = time.perf_counter() - started
    inputs = outputs = 0
    diverged = []
    for address in index.actors():
        result = replay(index, address)
        inputs += result.inputs
        outputs += result.outputs
        if not result.matched:
            diverged.append(address)
    total_s = time.perf_counter() - started
    return {
        "records": len(index.records),
        "read_s": round(read_s, 3),
        "replay_s": round(total_s, 3),
        "inputs": inputs,
        "outputs": outputs,
        "diverged": diverged,
        "replay_msgs_per_s": round(inputs / total_s),
    }


def noop_run(tasks: int, journal: bool) -> tuple[float, float]:
    """One run of the cluster benchmark's no-op mode (separate processes, real broker):
    tasks per second, and the CPU milliseconds per task of mesobus' own processes (the
    master, agents and framework; not the broker, which other users of the machine share)."""
    from tests.benchmarks import cluster as bench

    args = argparse.Namespace(
        tasks=tasks, true_tasks=0, agents=2, raw_messages=0, checkpoint=False, true_checkpoint=False,
        journal=journal, idle_tasks=0, ping_interval=15.0, allocation_interval=1.0, timeout=600.0,
        count=False, profile_dir=None,
    )
    with tempfile.TemporaryDirectory(prefix="mesobus-journal-cost-") as tmp:
        result = bench.run_mode("noop", args, Path(tmp), with_raw=False)
    cpu_s = sum(used for name, used in result["cpu_s"].items() if name != "broker")
    return round(result["tasks_per_s"], 1), round(cpu_s * 1000 / tasks, 3)


def journal_cost(tasks: int, rounds: int) -> dict:
    """The cluster benchmark's no-op tasks/s (and CPU per task) with the journal off and
    on, alternating."""
    off, on, off_cpu, on_cpu = [], [], [], []
    for _ in range(rounds):
        for journal, rates, cpus in ((False, off, off_cpu), (True, on, on_cpu)):
            rate, cpu = noop_run(tasks, journal)
            rates.append(rate)
            cpus.append(cpu)
    best_off, best_on = sorted(off)[len(off) // 2], sorted(on)[len(on) // 2]
    # Each round's own pair too: on a shared machine the load drifts between rounds, and
    # a round's off and on runs, back to back, see nearly the same load.
    paired = sorted(1 - b / a for a, b in zip(off, on))
    # CPU time per task is what the journal's work adds, and a loaded machine disturbs it
    # far less than it does throughput.
    cpu_off, cpu_on = sorted(off_cpu)[len(off_cpu) // 2], sorted(on_cpu)[len(on_cpu) // 2]
    return {"off_tasks_per_s": off, "on_tasks_per_s": on, "journal_cost": round(1 - best_on / best_off, 3),
            "journal_cost_paired": round(paired[len(paired) // 2], 3),
            "off_cpu_ms_per_task": off_cpu, "on_cpu_ms_per_task": on_cpu,
            "journal_cpu_cost": round(cpu_on / cpu_off - 1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=3000, help="tasks in the recorded run (default 3000)")
    parser.add_argument("--cost-tasks", type=int, default=2000, help="tasks per cluster run for the cost")
    parser.add_argument("--rounds", type=int, default=3, help="off/on pairs for the cost (median)")
    parser.add_argument("--skip-cost", action="store_true", help="only measure replay (no broker needed)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mesobus-journal-bench-") as tmp:
        path = os.path.join(tmp, "run.msgpack")
        seconds = record(path, args.tasks)
        size = os.path.getsize(path)
        print(f"recorded: {args.tasks} tasks on an embedded cluster in {seconds:.2f}s; journal {size / 1e6:.1f} MB")
        figures = replay_all(path)
    print(
        f"replay: {figures['records']} records read in {figures['read_s']}s; {figures['inputs']} inputs "
        f"replayed and {figures['outputs']} outputs compared in {figures['replay_s']}s "
        f"= {figures['replay_msgs_per_s']} msgs/s (goal >= 20000); diverged: {figures['diverged'] or 'none'}"
    )
    result = {"benchmark": "journal", "tasks": args.tasks, **figures}
    if not args.skip_cost:
        cost = journal_cost(args.cost_tasks, args.rounds)
        print(
            f"cost: cluster no-op tasks/s with the journal off {cost['off_tasks_per_s']}, "
            f"on {cost['on_tasks_per_s']}: {cost['journal_cost'] * 100:.1f}% lost (goal <= 10%); "
            f"median of the rounds' own pairs {cost['journal_cost_paired'] * 100:.1f}%\n"
            f"cpu: mesobus' processes' CPU ms per task with the journal off {cost['off_cpu_ms_per_task']}, "
            f"on {cost['on_cpu_ms_per_task']}: {cost['journal_cpu_cost'] * 100:+.1f}% (medians)"
        )
        result.update(cost)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
