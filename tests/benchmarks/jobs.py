"""How late do jobs start? 10,000 jobs on an embedded cluster (master, allocator and
agents in this process, each run a real `true` child process), their starts staggered so
that 200 fall due every second. Measured, per run due in the window (p50/p99):

- sent late: when the framework sent the task to the master, minus its due time (the
  jobs framework: its wake-ups, offers, the store);
- launch to running: from that send to the agent's TASK_RUNNING (the cluster: master,
  allocator, agent checkpoints, sandbox, process spawn), as the framework handles it;
  "the executor said it": to the update's own timestamp instead (the command executor's
  clock when it sent TASK_RUNNING), which leaves out the framework's mailbox;
- started late: TASK_RUNNING minus due time (the sum).

    python tests/benchmarks/jobs.py                       # 10,000 jobs, 200 due/s, 20 s
    python tests/benchmarks/jobs.py --compare             # and before it, the same with serial agent writes
    python tests/benchmarks/jobs.py --jobs 1000 --rate 20 --seconds 10
    python tests/benchmarks/jobs.py --store file --rate 50  # state in a file (group commit)

The baseline in the same run: 10 jobs, 1 due per second, on the same cluster first. The
runs of the window are waited for up to `--drain` seconds after it (not started: counted).
Prints human-readable lines, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.agent.checkpoint import Checkpoint  # noqa: E402
from actors.agent.state import TaskRecord  # noqa: E402
from actors.cluster import LocalCluster  # noqa: E402
from actors.frameworks.hosting import FileStore, MemoryStore  # noqa: E402
from actors.frameworks.jobs import JobsScheduler, call  # noqa: E402
from messages import CommandInfo, Resources, TaskInfo, TaskState  # noqa: E402


class Timed(JobsScheduler):
    """Records, per measured task, when it was sent to the master and when its agent said
    it runs (epoch seconds); the due time is in its task id."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.launched: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.said: dict[str, float] = {}  # TASK_RUNNING's timestamp: when the executor said it
        self.measure_from = self.measure_until = float("inf")

    def measured(self, task_id: str) -> bool:
        return task_id.startswith("ct:") and self.measure_from <= due_of(task_id) < self.measure_until

    def launch(self, offers, tasks, filters=None):
        now = time.time()
        for t in (tasks if isinstance(tasks, (list, tuple)) else [tasks]):
            if self.measured(t.task_id):
                with self.lock:
                    self.launched.setdefault(t.task_id, now)
        return super().launch(offers, tasks, filters)

    def status_update(self, status):
        if status.state is TaskState.TASK_RUNNING and self.measured(status.task_id):
            with self.lock:
                self.running.setdefault(status.task_id, time.time())
                self.said.setdefault(status.task_id, status.timestamp)
        super().status_update(status)


def due_of(task_id: str) -> float:
    return int(task_id.split(":")[1]) / 1000


def stamp(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)


def phase(handle, sched: Timed, prefix: str, jobs: int, rate: float, seconds: float, drain: float) -> dict:
    """`jobs` jobs, period jobs/rate seconds, starts staggered by 1/rate from 2 s on; the
    runs due in the `seconds` after that are measured (the jobs go on running after),
    waiting up to `drain` seconds after the window for the late ones to start."""
    period = jobs / rate
    begin = time.time() + 2.0 + jobs / 5_000  # room to create them all first
    with sched.lock:
        sched.launched.clear()
        sched.running.clear()
        sched.said.clear()
    sched.measure_from, sched.measure_until = begin, begin + seconds
    created = time.perf_counter()
    batch = 500
    for first in range(0, jobs, batch):
        defs = [{"name": f"{prefix}-{i}", "command": "true", "cpus": 0.01, "mem": 1, "retries": 0,
                 "schedule": f"R/{stamp(begin + i / rate)}/PT{period:g}S"} for i in range(first, min(jobs, first + batch))]
        call(handle, lambda s, defs=defs: [s.jobs.put(d) for d in defs], timeout=120)
    setup = time.perf_counter() - created
    expected = int(seconds * rate)
    time.sleep(max(0.0, begin - time.time()) + seconds)
    give_up = time.time() + drain
    while time.time() < give_up:
        with sched.lock:
            if len(sched.running) >= expected:
                break
        time.sleep(0.2)
    with sched.lock:
        launched, running, said = dict(sched.launched), dict(sched.running), dict(sched.said)
    sent = [at - due_of(t) for t, at in launched.items()]
    started = [at - due_of(t) for t, at in running.items()]
    cluster = [at - launched[t] for t, at in running.items() if t in launched]
    # The executor's own stamp: without the time TASK_RUNNING waited in the framework's mailbox.
    executor = [at - launched[t] for t, at in said.items() if t in launched and at > 0]
    return {"jobs": jobs, "due_per_second": rate, "seconds": seconds, "setup_seconds": round(setup, 2),
            "due": expected, "launched": len(launched), "running": len(running),
            "sent_late_ms_p50": pct(sent, 50), "sent_late_ms_p99": pct(sent, 99),
            "cluster_ms_p50": pct(cluster, 50), "cluster_ms_p99": pct(cluster, 99),
            "said_running_ms_p50": pct(executor, 50), "said_running_ms_p99": pct(executor, 99),
            "start_late_ms_p50": pct(started, 50), "start_late_ms_p99": pct(started, 99),
            "start_late_ms_mean": round(statistics.mean(started) * 1000, 1) if started else None}


def describe(label: str, r: dict) -> str:
    return (f"{label}: {r['jobs']} jobs, {r['due_per_second']:g} due/s: sent late (the framework) p50 "
            f"{r['sent_late_ms_p50']} ms, p99 {r['sent_late_ms_p99']} ms; launch to running (the cluster) p50 "
            f"{r['cluster_ms_p50']} ms, p99 {r['cluster_ms_p99']} ms (the executor said it p50 "
            f"{r.get('said_running_ms_p50')} ms, p99 {r.get('said_running_ms_p99')} ms); started late p50 {r['start_late_ms_p50']} ms, "
            f"p99 {r['start_late_ms_p99']} ms ({r['running']}/{r['due']} started, {r['setup_seconds']} s to create)")


def run_once(args: argparse.Namespace) -> tuple[dict, dict]:
    """A fresh cluster: the baseline phase, then the load."""
    with LocalCluster(agents=args.agents, agent_resources="cpus:64;mem:65536;disk:65536") as cluster:
        state_dir = tempfile.mkdtemp(prefix="jobs-bench-")
        store = FileStore(Path(state_dir) / "jobs.state") if args.store == "file" else MemoryStore()
        handle = Timed.run(cluster, name="jobs-bench", store=store)
        sched: Timed = handle.scheduler
        try:
            baseline = phase(handle, sched, "base", 10, 1.0, min(args.seconds, 10.0), args.drain)
            load = phase(handle, sched, "load", args.jobs, args.rate, args.seconds, args.drain)
        finally:
            # Thousands of runs are still going: their ends, met by stopped agents, are not news.
            logging.disable(logging.CRITICAL)
            try:
                handle.stop(timeout=60.0)  # behind the status updates of every run that started
            except Exception as err:  # noqa: BLE001  (the figures are measured already: keep them)
                print(f"the framework did not stop in time: {type(err).__name__} {err}", file=sys.stderr)
            store.close()
            shutil.rmtree(state_dir, ignore_errors=True)
    logging.disable(logging.NOTSET)
    return baseline, load


def checkpoint_writes(batch: int = 16, rounds: int = 15) -> dict:
    """An agent's group commit of `batch` task files, one at a time and in parallel
    (save_tasks), interleaved round by round so both see the same disk (median ms)."""
    info = TaskInfo("t", "t", "a1", Resources.parse("cpus:0.01;mem:1"), command=CommandInfo("true"))
    tasks = [(TaskRecord("f1", "mesobus-command", replace(info, task_id=f"t{i}"), TaskState.TASK_RUNNING,
                         Path("/sandbox"), "*"), None) for i in range(batch)]
    where = tempfile.mkdtemp(prefix="jobs-bench-cp-")
    checkpoint = Checkpoint(where)
    serial, parallel = [], []
    for _ in range(rounds):
        began = time.perf_counter()
        for task, stream in tasks:
            checkpoint.save_task(task, stream)
        serial.append(time.perf_counter() - began)
        began = time.perf_counter()
        checkpoint.save_tasks(tasks)
        parallel.append(time.perf_counter() - began)
    shutil.rmtree(where, ignore_errors=True)
    return {"batch": batch, "serial_ms": round(statistics.median(serial) * 1000, 1),
            "parallel_ms": round(statistics.median(parallel) * 1000, 1)}


@contextmanager
def serial_agent_writes():
    """The agents' task checkpoints written one after the other, as before save_tasks."""
    save_tasks = Checkpoint.save_tasks
    del Checkpoint.save_tasks
    try:
        yield
    finally:
        Checkpoint.save_tasks = save_tasks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="runs due per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to measure")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--store", choices=("memory", "file"), default="memory",
                        help="where the state goes: memory (default) or a file, as `mesobus jobs` alone")
    parser.add_argument("--drain", type=float, default=60.0,
                        help="seconds to wait after the window for the late runs to start")
    parser.add_argument("--compare", action="store_true",
                        help="first the same run, in a process of its own, with the agents' task checkpoints "
                             "written one at a time (before)")
    parser.add_argument("--serial-agent-writes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    result: dict = {"benchmark": "jobs", "cpus": os.cpu_count(), "store": args.store}
    if args.serial_agent_writes:  # the "before" of --compare
        with serial_agent_writes():
            baseline, load = run_once(args)
        print(json.dumps({"baseline": baseline, "load": load}))
        return 0
    writes = result["checkpoint_writes"] = checkpoint_writes()
    print(f"an agent's commit of {writes['batch']} task files: one at a time {writes['serial_ms']} ms, "
          f"in parallel {writes['parallel_ms']} ms (medians, interleaved)")
    if args.compare:
        argv = [a for a in sys.argv[1:] if a != "--compare"] + ["--serial-agent-writes"]
        done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=True)
        before = result["before"] = json.loads(done.stdout.strip().splitlines()[-1])
        print(describe("before (serial agent writes), baseline", before["baseline"]))
        print(describe("before (serial agent writes), load", before["load"]))
    baseline, load = run_once(args)
    print(describe("baseline", baseline))
    print(describe("load", load))
    result.update(baseline=baseline, load=load)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
