"""How fast `mesobus services` is, on an embedded cluster (memory transport, real task
processes), through its HTTP API, each figure beside a baseline from the same run.

    python tests/benchmarks/services.py [--instances 1000] [--small-apps 100] [--apps 1000] [--agents 4]

- scale 0 -> N instances of `sleep 600` (one PUT), time until all run; baseline: a bare
  Scheduler subclass launching N `sleep 600` tasks on the same cluster (packing offers);
- deployments per second: `--small-apps` apps of one instance each, POSTed one after the
  other, until no deployment is left;
- GET /v2/apps latency (p50/p99 of 50 calls) with `--apps` apps defined (0 instances, so
  the figure is the API's, not the tasks'); baseline: GET /ping on the same server.

Prints human lines, then one JSON object on the LAST line. Not a test: no assertions.
The machine may be shared: compare figures with the baselines beside them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors import Scheduler  # noqa: E402
from actors.cluster import LocalCluster  # noqa: E402
from actors.frameworks.hosting import MemoryStore, SwitchApp, start_hosted  # noqa: E402
from actors.frameworks.services import SPEC  # noqa: E402
from actors.http import HttpServer  # noqa: E402
from messages import Resources  # noqa: E402

TASK = Resources.parse("cpus:0.01;mem:16")


class Baseline(Scheduler):
    """Launch `count` `sleep 600` tasks as fast as offers allow; note when all run."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.to_launch, self.count, self.running = count, count, 0
        self.started = time.perf_counter()
        self.done_at = 0.0

    def resource_offers(self, offers):
        for offer in offers:
            tasks, free = [], offer.resources
            while self.to_launch and free.contains(TASK):
                self.to_launch -= 1
                tasks.append(self.task(offer, "sleep 600", resources=TASK))
                free -= TASK
            self.launch(offer, tasks)

    def status_update(self, status):
        if status.state.value == "TASK_RUNNING":
            self.running += 1
            if self.running == self.count:
                self.done_at = time.perf_counter()


def wait(what: str, check, timeout: float) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"benchmark: timed out waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter() - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--small-apps", type=int, default=100)
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=4)
    args = parser.parse_args()
    per_agent = args.instances // args.agents + 10
    resources = f"cpus:{per_agent * 0.01 + 2:.2f};mem:{per_agent * 16 + 4096};disk:1000;ports:[31000-33000]"
    out: dict = {}
    with LocalCluster(agents=args.agents, agent_resources=resources) as cluster:
        # baseline: a bare scheduler
        handle = Baseline.run(cluster, name="baseline", count=args.instances)
        wait("the baseline's tasks", lambda: handle.scheduler.done_at, 600)
        base = handle.scheduler.done_at - handle.scheduler.started
        handle.stop()
        wait("the baseline's tasks to end", lambda: not any(
            t for f in cluster.state()["frameworks"] for t in f.get("tasks", [])), 120)
        print(f"baseline: a bare Scheduler ran {args.instances} sleep tasks in {base:.2f}s "
              f"({args.instances / base:.0f}/s)", flush=True)

        switch = SwitchApp(None)
        server = HttpServer(switch, "127.0.0.1", 0, name="services").start()
        running = start_hosted(SPEC, target=cluster, store=MemoryStore(), server=server, switch=switch)
        url = server.url
        http = httpx.Client(base_url=url, timeout=120)
        try:
            app = {"id": "/bench/sleep", "cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": 0,
                   "portDefinitions": []}
            assert http.post("/v2/apps", json=app).status_code == 201
            wait("the empty app's deployment", lambda: not http.get("/v2/deployments").json(), 60)
            started = time.perf_counter()
            http.put("/v2/apps/bench/sleep", json={"instances": args.instances})
            counts = lambda: http.get("/v2/apps/bench/sleep?embed=app.counts").json()["app"]  # noqa: E731
            wait("all instances to run", lambda: counts()["tasksRunning"] == args.instances, 900)
            scale = time.perf_counter() - started
            print(f"scale 0 -> {args.instances}: {scale:.2f}s ({args.instances / scale:.0f} instances/s); "
                  f"baseline {base:.2f}s ({scale / base:.2f}x the bare scheduler's time)", flush=True)
            http.delete("/v2/apps/bench/sleep", params={"force": "true"})
            wait("the instances to stop", lambda: not http.get("/v2/tasks").json()["tasks"], 300)

            started = time.perf_counter()
            for i in range(args.small_apps):
                small = {"id": f"/small/app-{i}", "cmd": "sleep 600", "cpus": 0.01, "mem": 16, "portDefinitions": []}
                assert http.post("/v2/apps", json=small).status_code == 201
            wait("the small apps' deployments", lambda: not http.get("/v2/deployments").json(), 600)
            small_s = time.perf_counter() - started
            print(f"deployments: {args.small_apps} one-instance apps deployed in {small_s:.2f}s = "
                  f"{args.small_apps / small_s:.1f} deployments/s", flush=True)
            http.delete("/v2/groups/small")  # not offered: delete app by app
            for i in range(args.small_apps):
                http.delete(f"/v2/apps/small/app-{i}", params={"force": "true"})

            for i in range(args.apps):
                quiet = {"id": f"/many/app-{i}", "cmd": "sleep 600", "instances": 0, "labels": {"n": str(i)},
                         "env": {"A": "b"}, "healthChecks": [{"protocol": "TCP"}]}
                http.post("/v2/apps", json=quiet)
            wait("the quiet apps' deployments", lambda: not http.get("/v2/deployments").json(), 300)
            for _ in range(3):
                http.get("/v2/apps")  # warm up
            apps_ms, ping_ms = [], []
            for _ in range(50):
                t = time.perf_counter()
                raw = http.get("/v2/apps").content  # the API's time, not the client's JSON parsing
                apps_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                http.get("/ping")
                ping_ms.append((time.perf_counter() - t) * 1000)
            body = json.loads(raw)
            assert len(body["apps"]) >= args.apps
            print(f"GET /v2/apps with {len(body['apps'])} apps: p50 {statistics.median(apps_ms):.1f} ms, "
                  f"p99 {percentile(apps_ms, 0.99):.1f} ms; baseline GET /ping p50 {statistics.median(ping_ms):.1f} ms",
                  flush=True)
            out = {"instances": args.instances, "scale_seconds": round(scale, 3),
                   "scale_instances_per_s": round(args.instances / scale, 1), "baseline_seconds": round(base, 3),
                   "small_apps": args.small_apps, "deployments_per_s": round(args.small_apps / small_s, 2),
                   "apps": len(body["apps"]), "apps_p50_ms": round(statistics.median(apps_ms), 2),
                   "apps_p99_ms": round(percentile(apps_ms, 0.99), 2),
                   "ping_p50_ms": round(statistics.median(ping_ms), 2)}
        finally:
            http.close()
            running.handle.stop()
            server.stop()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
