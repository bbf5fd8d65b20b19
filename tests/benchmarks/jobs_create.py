"""How fast are jobs created through Chronos' API when the state is in a file (`mesobus
jobs` without a broker)? N jobs POSTed to /v1/scheduler/iso8601 by C concurrent clients,
(in 4 processes of their own) against the jobs framework hosted as `mesobus jobs` hosts it (embedded cluster, HTTP
server, FileStore), twice in this run:

- baseline: a store that makes each write durable on its own (one fsync per job, on the
  scheduler's thread), as the FileStore did before group commit;
- group commit: the FileStore itself (a call's records written on the scheduler's thread,
  its answer sent once an fsync that may cover other calls' records has returned).

    python tests/benchmarks/jobs_create.py                  # 10,000 jobs, 32 clients
    python tests/benchmarks/jobs_create.py --jobs 2000 --clients 8

Every job is then read back from a reopened file. Prints human lines, then one JSON object
on the last line. Not a test: no assertions. The machine may be shared: compare the two
figures of one run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors.cluster import LocalCluster  # noqa: E402
from actors.frameworks.hosting import FileStore, SwitchApp, start_hosted  # noqa: E402
from actors.frameworks.jobs import SPEC  # noqa: E402
from actors.http import HttpServer  # noqa: E402


class PerWriteStore:
    """The FileStore behind only `put`/`delete`: each write waits for its own fsync."""

    def __init__(self, path: Path) -> None:
        self.inner = FileStore(path)

    def load(self) -> dict[str, Any]:
        return self.inner.load()

    def put(self, key: str, value: Any) -> None:
        self.inner.put(key, value)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def close(self) -> None:
        self.inner.close()

    @property
    def fsyncs(self) -> int:
        return self.inner.fsyncs


def post_range(url: str, names: range, threads: int) -> list[float]:
    """POST the jobs named by `names` from `threads` keep-alive connections (one process of
    the clients); each request's seconds."""
    host, port = url.split("//")[1].split(":")
    todo = iter(names)
    lock = threading.Lock()
    took: list[float] = []
    failures: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                break
            body = json.dumps({"name": f"create-{i}", "command": "true", "cpus": 0.01, "mem": 1,
                               "schedule": "R/2099-01-01T00:00:00Z/PT1H", "owner": "bench@example.com"})
            began = time.perf_counter()
            connection.request("POST", "/v1/scheduler/iso8601", body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            text = answer.read()
            with lock:
                took.append(time.perf_counter() - began)
            if answer.status != 204:
                with lock:
                    failures.append(f"job {i}: {answer.status} {text[:200]!r}")
        connection.close()

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, the first: {failures[0]}")
    return took


def post_all(url: str, jobs: int, clients: int) -> list[float]:
    """POST `jobs` jobs from `clients` concurrent connections, in processes of their own
    (8 connections each) so that the clients do not share the server's interpreter."""
    processes = max(1, clients // 8)
    slices = [range(p, jobs, processes) for p in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(post_range, [url] * processes, slices, [clients // processes] * processes)
        return [t for part in results for t in part]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)


def measure(cluster: Any, store_kind: str, jobs: int, clients: int) -> dict:
    state_dir = Path(tempfile.mkdtemp(prefix="jobs-create-"))
    path = state_dir / "jobs.state"
    store = PerWriteStore(path) if store_kind == "baseline" else FileStore(path)
    switch = SwitchApp(None)
    server = HttpServer(switch, "127.0.0.1", 0, name="jobs").start()
    running = start_hosted(SPEC, target=cluster, store=store, server=server, switch=switch)
    try:
        fsyncs = store.fsyncs
        began = time.perf_counter()
        took = post_all(server.url, jobs, clients)
        seconds = time.perf_counter() - began
        fsyncs = store.fsyncs - fsyncs
    finally:
        running.handle.stop()
        server.stop()
        store.close()
    kept = sum(1 for key in FileStore(path).load() if key.startswith("job/create-"))
    shutil.rmtree(state_dir, ignore_errors=True)
    return {"store": store_kind, "jobs": jobs, "clients": clients, "seconds": round(seconds, 2),
            "jobs_per_second": round(jobs / seconds, 1), "request_ms_p50": pct(took, 50),
            "request_ms_p99": pct(took, 99), "fsyncs": fsyncs, "kept_after_reopen": kept}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    args = parser.parse_args()
    results = {}
    with LocalCluster(agents=1) as cluster:
        for kind in ("baseline", "group-commit"):
            results[kind] = r = measure(cluster, kind, args.jobs, args.clients)
            print(f"{kind}: {args.jobs} jobs by {args.clients} clients in {r['seconds']} s "
                  f"({r['jobs_per_second']}/s; a request p50 {r['request_ms_p50']} ms, p99 {r['request_ms_p99']} ms; "
                  f"{r['fsyncs']} fsyncs; {r['kept_after_reopen']} read back)")
    print(json.dumps({"benchmark": "jobs_create", "cpus": os.cpu_count(), **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
