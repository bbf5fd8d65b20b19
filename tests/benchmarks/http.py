"""The operator's HTTP API under load, in one run:

    python tests/benchmarks/http.py [--agents 1000] [--tasks 10000] [--requests 200]
                                    [--cluster-tasks 2000] [--skip-cluster]

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
   framework), with nobody reading the API and with a client polling `/master/state`
   every 100 ms, interleaved (quiet, polled, polled, quiet: `--rounds`), in the same run.
   Goal: no more than 5 % lower.

Human lines, then one JSON object on the LAST line. Not a test: no assertions.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, and this module's name
# would hide the standard library's `http` package from everything imported below.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
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


def cluster_throughput(tasks: int, rounds: int) -> dict[str, Any]:
    """Tasks per second, without and with a /master/state poller (every 100 ms): runs in
    the order quiet, polled, polled, quiet, ... (`rounds` of each) so that a machine whose
    load drifts during the run does not favour either; each figure is the mean."""
    import os

    from tests.benchmarks.cluster import run_framework, start_cluster  # the existing harness
    from tests.support.vhost import private_vhost

    out: dict[str, Any] = {"quiet_runs": [], "polled_runs": [], "polls": 0, "poll_ms": []}
    order = [(False, True) if i % 2 == 0 else (True, False) for i in range(rounds)]
    for polled in [p for pair in order for p in pair]:
        with private_vhost("mesobus-bench-http") as url, tempfile.TemporaryDirectory() as tmp:
            port = _free_port()
            os.environ["MESOBUS_HTTP"] = f"127.0.0.1:{port}"  # the master's --http default
            args = argparse.Namespace(agents=1, journal=True, checkpoint=False, true_checkpoint=False,
                                      ping_interval=15.0, allocation_interval=1.0, timeout=600.0, profile_dir=None)
            cluster = start_cluster("noop", args, url, Path(tmp))
            stop = threading.Event()
            polls: list[float] = []
            poller = threading.Thread(target=_poll, args=(f"http://127.0.0.1:{port}", stop, polls), daemon=True)
            try:
                if polled:
                    poller.start()
                summary = Path(tmp) / "summary.json"
                result = run_framework(cluster, args, "load", summary, tasks, "--per-agent", str(tasks))
            finally:
                stop.set()
                cluster.stop()
            out["polled_runs" if polled else "quiet_runs"].append(round(result["tasks_per_s"], 1))
            if polled:
                out["polls"] += len(polls)
                out["poll_ms"] += polls
            print(f"  {'polled' if polled else 'quiet '}: {result['tasks_per_s']:.0f} tasks/s", flush=True)
    out["quiet_tasks_per_s"] = statistics.mean(out["quiet_runs"])
    out["polled_tasks_per_s"] = statistics.mean(out["polled_runs"])
    out["poll_p50_ms"] = statistics.median(out.pop("poll_ms")) if out["polls"] else None
    out["slowdown"] = 1 - out["polled_tasks_per_s"] / out["quiet_tasks_per_s"]
    return out


def _poll(url: str, stop: threading.Event, polls: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.wait(0.1):
            t0 = time.perf_counter()
            try:
                client.get("/master/state")
                polls.append((time.perf_counter() - t0) * 1000)
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
    p.add_argument("--cluster-tasks", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=2, help="runs of each kind, interleaved (default: 2)")
    p.add_argument("--skip-cluster", action="store_true")
    args = p.parse_args()
    result: dict[str, Any] = {}
    latency = state_latency(args.agents, args.tasks, args.requests)
    result.update({f"state_{k}": v for k, v in latency.items()})
    print(f"/master/state with {latency['agents']} agents, {latency['tasks']} tasks ({latency['state_bytes']:,} bytes): "
          f"warm p50 {latency['warm_ms']['p50']:.1f} ms p99 {latency['warm_ms']['p99']:.1f} ms; "
          f"cold p50 {latency['cold_ms']['p50']:.1f} ms p99 {latency['cold_ms']['p99']:.1f} ms; "
          f"snapshot built in {latency['snapshot_build_ms']:.1f} ms on the master's thread (goal warm p50 <= {GOAL_P50_MS:g} ms)")
    if not args.skip_cluster:
        through = cluster_throughput(args.cluster_tasks, args.rounds)
        result.update({f"cluster_{k}": v for k, v in through.items()})
        print(f"cluster: {through.get('quiet_tasks_per_s', 0):.0f} tasks/s quiet, {through.get('polled_tasks_per_s', 0):.0f} "
              f"tasks/s with /master/state polled every 100 ms ({through.get('polls', 0)} polls, p50 "
              f"{through.get('poll_p50_ms') or 0:.1f} ms): {100 * through.get('slowdown', 0):+.1f} % slower "
              f"(goal <= {100 * GOAL_SLOWDOWN:g} %)")
    result["goal_state_p50_ms"] = GOAL_P50_MS
    result["goal_slowdown"] = GOAL_SLOWDOWN
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
