"""How late do jobs start? 10,000 jobs on an embedded cluster (master, allocator and
agents in this process, each run a real `true` child process), their starts staggered so
that 200 fall due every second; measured: start minus due (p50/p99), where "launched" is
when the task was sent to the master and "running" when the agent reported it running.

    python tests/benchmarks/jobs.py                       # 10,000 jobs, 200 due/s, 20 s
    python tests/benchmarks/jobs.py --jobs 1000 --rate 20 --seconds 10
    python tests/benchmarks/jobs.py --store file --rate 50  # state in a file, fsynced per write

The baseline in the same run: 10 jobs, 1 due per second, on the same cluster first.
Prints human-readable lines, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# This directory holds a benchmark named http.py: off sys.path, or it hides the stdlib's http.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from actors.cluster import LocalCluster  # noqa: E402
from actors.frameworks.hosting import FileStore, MemoryStore  # noqa: E402
from actors.frameworks.jobs import JobsScheduler, call  # noqa: E402
from messages import TaskState  # noqa: E402


class Timed(JobsScheduler):
    """Records, per task, launch and running time minus the due time in its task id."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.launched: list[float] = []
        self.running: list[float] = []
        self.measure_from = self.measure_until = float("inf")

    def measured(self, due: float) -> bool:
        return self.measure_from <= due < self.measure_until

    def launch(self, offers, tasks, filters=None):
        now = time.time()
        for t in (tasks if isinstance(tasks, (list, tuple)) else [tasks]):
            due = int(t.task_id.split(":")[1]) / 1000
            if self.measured(due):
                with self.lock:
                    self.launched.append(now - due)
        return super().launch(offers, tasks, filters)

    def status_update(self, status):
        if status.state is TaskState.TASK_RUNNING and status.task_id.startswith("ct:"):
            due = int(status.task_id.split(":")[1]) / 1000
            if self.measured(due):
                with self.lock:
                    self.running.append(time.time() - due)
        super().status_update(status)


def stamp(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)


def phase(handle, sched: Timed, prefix: str, jobs: int, rate: float, seconds: float) -> dict:
    """`jobs` jobs, period jobs/rate seconds, starts staggered by 1/rate from 2 s on; the
    runs due in the `seconds` after that are measured (the jobs go on running after)."""
    period = jobs / rate
    begin = time.time() + 2.0 + jobs / 20_000  # room to create them all first
    with sched.lock:
        sched.launched.clear()
        sched.running.clear()
    sched.measure_from, sched.measure_until = begin, begin + seconds
    created = time.perf_counter()
    batch = 500
    for first in range(0, jobs, batch):
        defs = [{"name": f"{prefix}-{i}", "command": "true", "cpus": 0.01, "mem": 1, "retries": 0,
                 "schedule": f"R/{stamp(begin + i / rate)}/PT{period:g}S"} for i in range(first, min(jobs, first + batch))]
        call(handle, lambda s, defs=defs: [s.jobs.put(d) for d in defs], timeout=120)
    setup = time.perf_counter() - created
    time.sleep(max(0.0, begin - time.time()) + seconds + 3.0)  # the window, and 3 s for its last runs
    with sched.lock:
        launched, running = list(sched.launched), list(sched.running)
    expected = int(seconds * rate)
    return {"jobs": jobs, "due_per_second": rate, "seconds": seconds, "setup_seconds": round(setup, 2),
            "due": expected, "launched": len(launched), "running": len(running),
            "launch_late_ms_p50": pct(launched, 50), "launch_late_ms_p99": pct(launched, 99),
            "start_late_ms_p50": pct(running, 50), "start_late_ms_p99": pct(running, 99),
            "start_late_ms_mean": round(statistics.mean(running) * 1000, 1) if running else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="runs due per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to measure")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--store", choices=("memory", "file"), default="memory",
                        help="where the state goes: memory (default) or a file fsynced per write, as `mesobus jobs` alone"
)
    args = parser.parse_args()
    with LocalCluster(agents=args.agents, agent_resources="cpus:64;mem:65536;disk:65536") as cluster:
        state_dir = tempfile.mkdtemp(prefix="jobs-bench-")
        store = FileStore(Path(state_dir) / "jobs.state") if args.store == "file" else MemoryStore()
        handle = Timed.run(cluster, name="jobs-bench", store=store)
        sched: Timed = handle.scheduler
        baseline = phase(handle, sched, "base", 10, 1.0, min(args.seconds, 10.0))
        print(f"baseline: 10 jobs, 1 due/s: start late p50 {baseline['start_late_ms_p50']} ms, "
              f"p99 {baseline['start_late_ms_p99']} ms ({baseline['running']}/{baseline['due']} started)")
        load = phase(handle, sched, "load", args.jobs, args.rate, args.seconds)
        print(f"load: {args.jobs} jobs, {args.rate:g} due/s: launched late p50 {load['launch_late_ms_p50']} ms "
              f"p99 {load['launch_late_ms_p99']} ms; start late p50 {load['start_late_ms_p50']} ms, "
              f"p99 {load['start_late_ms_p99']} ms ({load['running']}/{load['due']} started, "
              f"{load['setup_seconds']} s to create the jobs)")
        handle.stop()
        store.close()
        shutil.rmtree(state_dir, ignore_errors=True)
    print(json.dumps({"benchmark": "jobs", "cpus": os.cpu_count(), "store": args.store, "baseline": baseline,
                      "load": load}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
