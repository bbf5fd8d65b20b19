"""The operator's HTTP API under load, in one run:

    python tests/benchmarks/operator_http.py [--agents 1000] [--tasks 10000] [--requests 200]
                                    [--pairs 12] [--window 5] [--skip-cluster]

1. `/master/state` latency with `--agents` agents and `--tasks` running tasks: a master
   on the memory transport, filled through its own handlers (RegisterAgent,
   RegisterFramework, offers, Accept, a TASK_RUNNING StatusUpdate per task), served by
   the real HTTP stack (uvicorn on its thread) and read with httpx over TCP. Two figures:
   `warm`, requests that find the snapshot and its rendering current (what every poller
   but the first gets), and `cold`, each request after a change, so that the master
   rebuilds its snapshot and the body is rendered again (the worst case). Goal: warm p50
   <= 50 ms. Also the time the master's own thread spent building one snapshot.
2. Cluster task throughput on the real broker (tests/benchmarks/cluster.py's process
   cluster: `mesobus master` with --http, one agent in executor mode noop, the load
   framework running throughout), in alternating windows of one run: quiet, polled
   (a client reads `/master/state` every 100 ms), quiet, polled, ..., quiet (`--pairs`,
   `--window`). Each polled window is compared with the quiet ones on either side; the
   median of those ratios and their spread are reported. Goal: no more than 5 % lower.

Human lines, then one JSON object on the LAST line. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from actors.http import HttpServer  # noqa: E402
from actors.master import Master, MasterConfig  # noqa: E402
from actors.operator import MasterSource, operator_app  # noqa: E402
from actors.runtime import MemoryTransport  # noqa: E402
from messages import (  # noqa: E402
    Accept,
    AgentInfo,
    AllocationEntry,
    CommandInfo,
    Envelope,
    FrameworkInfo,
    Operation,
    OperationType,
    RegisterAgent,
    RegisterFramework,
    Resources,
    ResourcesAllocated,
    StatusUpdate,
    TaskInfo,
    TaskState,
    TaskStatus,
)

GOAL_P50_MS = 50.0
GOAL_SLOWDOWN = 0.05
TASKS = 500_000  # the load framework's: more than the windows finish (it is stopped after them)


def _say(m: Master, sender: str, body: Any, n: list[int]) -> None:
    n[0] += 1
    m.dispatch(Envelope(id=f"bench-{n[0]}", sender=sender, target="master", body=body, sent_at=time.time()))


def filled_master(agents: int, tasks: int) -> Master:
    """A master (not started: its handlers are called here, on this thread) that holds
    `agents` agents and `tasks` running tasks of one framework, spread evenly."""
    from actors.runtime.clock import RealClock

    transport = MemoryTransport(RealClock())
    m = Master(transport, MasterConfig(master_id="bench", hostname="bench", max_completed_tasks=10000))
    n = [0]
    resources = Resources.parse("cpus:64;mem:65536;disk:100000;ports:[31000-32000]")
    for i in range(agents):
        _say(m, f"agent.a{i}", RegisterAgent(AgentInfo(f"host-{i}", resources, {"rack": f"r{i % 10}"}, agent_id=f"a{i}")), n)
    ids = [a.id for a in m.agents.all()]
    _say(m, "framework.bench", RegisterFramework(FrameworkInfo("bench", "bench", framework_id="fw-bench", roles=("*",))), n)
    framework_id = m.frameworks.all()[0].id
    m.envelope = None
    _say(m, "allocator", ResourcesAllocated(tuple(AllocationEntry(framework_id, a, "*", resources) for a in ids)), n)
    offers = {o.offer.agent_id: o.offer.offer_id for o in m.offers.records()}
    per_agent = -(-tasks // max(agents, 1))
    task = Resources.parse("cpus:0.1;mem:32")
    made = 0
    for a in ids:
        batch = []
        for _ in range(min(per_agent, tasks - made)):
            batch.append(TaskInfo(f"t{made}", f"task {made}", a, task, command=CommandInfo("sleep 1000")))
            made += 1
        if batch:
            _say(m, f"framework.{framework_id}", Accept(framework_id, (offers[a],), (Operation(OperationType.LAUNCH, tuple(batch)),)), n)
            for t in batch:
                status = TaskStatus(t.task_id, TaskState.TASK_RUNNING, agent_id=a, executor_id="mesobus-command",
                                    timestamp=time.time(), uuid=f"u-{t.task_id}")
                _say(m, f"agent.{a}", StatusUpdate(framework_id, "mesobus-command", a, status, time.time(), status.uuid), n)
    return m


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"p50": statistics.median(samples), "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))]}


def state_latency(agents: int, tasks: int, requests: int) -> dict[str, Any]:
    started = time.perf_counter()
    m = filled_master(agents, tasks)
    fill_s = time.perf_counter() - started
    live = m.tasks.live_count()
    source = MasterSource("127.0.0.1:0")
    source.lead(m.snapshots)  # no actor thread here: latest() rebuilds in place when due
    server = HttpServer(operator_app(source), "127.0.0.1", 0).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            first = client.get("/master/state")
            size = len(first.content)
            assert len(first.json()["slaves"]) == agents
            warm = []
            for _ in range(requests):
                t0 = time.perf_counter()
                client.get("/master/state").raise_for_status()
                warm.append((time.perf_counter() - t0) * 1000)
            cold, builds = [], []
            for _ in range(max(requests // 10, 5)):
                m.snapshots.changed()
                m.snapshots.expire()
                t0 = time.perf_counter()
                client.get("/master/state").raise_for_status()
                cold.append((time.perf_counter() - t0) * 1000)
                builds.append(m.snapshots.latest().built_in * 1000)
    finally:
        server.stop()
    return {"agents": agents, "tasks": live, "fill_s": round(fill_s, 1), "state_bytes": size,
            "warm_ms": _percentiles(warm), "cold_ms": _percentiles(cold),
            "snapshot_build_ms": statistics.median(builds)}


def cluster_throughput(pairs: int, window: float, warmup: float) -> dict[str, Any]:
    """Tasks per second of one running cluster in alternating windows: quiet, polled,
    quiet, polled, ..., quiet (`pairs` polled windows of `window` seconds, a client
    reading `/master/state` every 100 ms in those). Each polled window is compared with
    the mean of the quiet windows on either side, so a load that drifts during the run
    (a shared host) cancels out; the figure is the median of those ratios, with their
    spread. Throughput counts the tasks that finished in each window (the framework's
    events, timed in its process)."""
    from tests.benchmarks.cluster import TASK_CPUS, TASK_MEM, start_cluster  # the existing harness
    from tests.support.vhost import private_vhost

    with private_vhost("mesobus-bench-http") as url, tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        os.environ["MESOBUS_HTTP"] = f"127.0.0.1:{port}"  # the master's --http default
        args = argparse.Namespace(agents=1, journal=True, checkpoint=False, true_checkpoint=False,
                                  ping_interval=15.0, allocation_interval=1.0, timeout=600.0, profile_dir=None)
        cluster = start_cluster("noop", args, url, Path(tmp))
        events = FinishedTasks(Path(tmp) / "events.jsonl")
        polling, stop = threading.Event(), threading.Event()
        polls: list[tuple[float, int]] = []
        poller = threading.Thread(target=_poll, args=(f"http://127.0.0.1:{port}", polling, stop, polls), daemon=True)
        try:
            cluster.start_framework(
                "load", events.path, "--tasks", str(TASKS), "--command", "true", "--cpus", str(TASK_CPUS),
                "--mem", str(TASK_MEM), "--name", "load", "--per-agent", str(TASKS),
            )
            usage = ProcessCpu({p.name: [p.pid] for p in cluster.procs if p.alive()})
            poller.start()
            time.sleep(warmup)  # the framework registered and launches at its steady rate
            events.rate(time.time())
            quiet, polled = [], []
            cpu: dict[bool, list[dict[str, float]]] = {False: [], True: []}  # CPU ms per task finished, by process
            for n in range(2 * pairs + 1):
                kind = polled if n % 2 else quiet
                (polling.set if n % 2 else polling.clear)()
                started, before = time.time(), usage.read()
                time.sleep(window)
                kind.append(events.rate(started, time.time()))
                finished = kind[-1] * window
                if finished:
                    used = usage.read()
                    cpu[bool(n % 2)].append({k: (used[k] - before[k]) * 1000 / finished for k in used})
                print(f"  {'polled' if n % 2 else 'quiet '}: {kind[-1]:.0f} tasks/s, CPU ms per task: "
                      + (", ".join(f"{k} {v:.3f}" for k, v in cpu[bool(n % 2)][-1].items()) if finished else "-"),
                      flush=True)
        finally:
            stop.set()
            polling.set()
            cluster.stop()
    ratios = [p / ((quiet[i] + quiet[i + 1]) / 2) for i, p in enumerate(polled) if quiet[i] + quiet[i + 1] > 0]
    ratios.sort()
    median = statistics.median(ratios)
    return {
        "windows_s": window,
        "pairs": pairs,
        "quiet_runs": [round(r, 1) for r in quiet],
        "polled_runs": [round(r, 1) for r in polled],
        "quiet_tasks_per_s": round(statistics.median(quiet), 1),
        "polled_tasks_per_s": round(statistics.median(polled), 1),
        "ratio_median": round(median, 3),
        "ratio_p25": round(ratios[len(ratios) // 4], 3),
        "ratio_p75": round(ratios[(3 * len(ratios)) // 4], 3),
        "ratio_min": round(ratios[0], 3),
        "ratio_max": round(ratios[-1], 3),
        "slowdown": round(1 - median, 3),
        # Less noisy than throughput on a shared host: what the polling costs each process
        # (the machine's whole CPU included), in CPU ms per task finished, medians.
        "cpu_ms_per_task_quiet": _medians(cpu[False]),
        "cpu_ms_per_task_polled": _medians(cpu[True]),
        "polls": len(polls),
        "poll_p50_ms": round(statistics.median(ms for ms, _ in polls), 1) if polls else None,
        "poll_bytes_p50": int(statistics.median(size for _, size in polls)) if polls else None,
    }


class ProcessCpu:
    """CPU seconds used so far by the cluster's processes, the broker (beam.smp), this
    process (the poller) and the whole machine (/proc/stat, every core)."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        from tests.benchmarks.cluster import _all_pids, _comm

        self.pids = {**pids, "broker": [p for p in _all_pids() if _comm(p) == "beam.smp"], "poller": [os.getpid()]}

    def read(self) -> dict[str, float]:
        from tests.benchmarks.cluster import _cpu

        out = {name: sum(_cpu(pid) or 0.0 for pid in pids) for name, pids in self.pids.items()}
        busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        # user nice system idle iowait irq softirq steal: all but idle and iowait
        out["machine"] = (sum(int(v) for v in busy[:8]) - int(busy[3]) - int(busy[4])) / os.sysconf("SC_CLK_TCK")
        return out


def _medians(samples: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(s[k] for s in samples), 3) for k in samples[0]} if samples else {}


class FinishedTasks:
    """The load framework's events file, read as it grows: when its tasks finished."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._at = 0
        self._finished: list[float] = []

    def rate(self, start: float, end: float | None = None) -> float:
        """Tasks finished per second between `start` and `end` (read up to now first)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._at)
                data = f.read()
        except OSError:
            data = b""
        complete = data[: data.rfind(b"\n") + 1]  # a line being written is read next time
        self._at += len(complete)
        for line in complete.splitlines():
            if b'"TASK_FINISHED"' in line:
                self._finished.append(json.loads(line)["t"])
        if end is None:
            return 0.0
        return sum(1 for t in self._finished if start <= t < end) / (end - start)


def _poll(url: str, polling: threading.Event, stop: threading.Event, polls: list[tuple[float, int]]) -> None:
    """Read `/master/state` every 100 ms while `polling` is set: (ms, body bytes) each."""
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            polling.wait()
            if stop.wait(0.1) or not polling.is_set():
                continue
            t0 = time.perf_counter()
            try:
                body = client.get("/master/state").raise_for_status().content
                polls.append(((time.perf_counter() - t0) * 1000, len(body)))
            except httpx.HTTPError:
                pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=10000)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--pairs", type=int, default=12, help="polled windows, each between two quiet ones (default: 12)")
    p.add_argument("--window", type=float, default=5.0, help="seconds per window (default: 5)")
    p.add_argument("--warmup", type=float, default=10.0, help="seconds of load before the first window (default: 10)")
    p.add_argument("--skip-cluster", action="store_true")
    args = p.parse_args()
    if args.pairs < 1 or args.window <= 0 or args.warmup < 0:
        p.error("--pairs must be at least 1, --window above 0 and --warmup not negative")
    result: dict[str, Any] = {}
    latency = state_latency(args.agents, args.tasks, args.requests)
    result.update({f"state_{k}": v for k, v in latency.items()})
    print(f"/master/state with {latency['agents']} agents, {latency['tasks']} tasks ({latency['state_bytes']:,} bytes): "
          f"warm p50 {latency['warm_ms']['p50']:.1f} ms p99 {latency['warm_ms']['p99']:.1f} ms; "
          f"cold p50 {latency['cold_ms']['p50']:.1f} ms p99 {latency['cold_ms']['p99']:.1f} ms; "
          f"snapshot built in {latency['snapshot_build_ms']:.1f} ms on the master's thread (goal warm p50 <= {GOAL_P50_MS:g} ms)")
    if not args.skip_cluster:
        through = cluster_throughput(args.pairs, args.window, args.warmup)
        result.update({f"cluster_{k}": v for k, v in through.items()})
        print(f"cluster: {through['quiet_tasks_per_s']:.0f} tasks/s quiet, {through['polled_tasks_per_s']:.0f} "
              f"tasks/s with /master/state polled every 100 ms ({through['polls']} polls, p50 "
              f"{through['poll_p50_ms'] or 0:.1f} ms, {through['poll_bytes_p50'] or 0:,} bytes); "
              f"polled/quiet over {through['pairs']} pairs: median "
              f"{through['ratio_median']:.3f} (p25-p75 {through['ratio_p25']:.3f}-{through['ratio_p75']:.3f}, "
              f"min-max {through['ratio_min']:.3f}-{through['ratio_max']:.3f}): {100 * through['slowdown']:+.1f} % "
              f"slower (goal <= {100 * GOAL_SLOWDOWN:g} %)")
        quiet_cpu, polled_cpu = through["cpu_ms_per_task_quiet"], through["cpu_ms_per_task_polled"]
        print("CPU ms per task, quiet -> polled: " + ", ".join(
            f"{k} {quiet_cpu[k]:.3f} -> {polled_cpu[k]:.3f}" for k in quiet_cpu))
    result["goal_state_p50_ms"] = GOAL_P50_MS
    result["goal_slowdown"] = GOAL_SLOWDOWN
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
