"""Allocator benchmark, shaped like Mesos' HierarchicalAllocator_BENCHMARK_Test.DeclineOffers.

    python tests/benchmarks/allocator.py            # 10,000 x 1,000 and 50,000 x 200
    python tests/benchmarks/allocator.py --quick    # 1,000 x 100, a few seconds
    python tests/benchmarks/allocator.py --shape 20000x500 --rounds 10

Every agent is `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`; every framework is in
the same role and declines every offer with a long filter, so each round offers every
agent to a framework that has not seen it yet. Only `allocate()` is timed per round (the
declines are timed apart). Each shape runs in its own process so its peak memory (max
RSS) is its own. Prints human-readable lines, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENT = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"
ROLE = "*"
REFUSE_SECONDS = 1e9  # "forever"
FULL = [(10_000, 1_000), (50_000, 200)]
QUICK = [(1_000, 100)]
GOALS = {(10_000, 1_000): 0.5, (50_000, 200): 1.0}


def run_shape(agents: int, frameworks: int, rounds: int, seed: int) -> dict:
    """Set up one cluster and time `rounds` allocate-then-decline rounds."""
    sys.path.insert(0, str(ROOT))
    from actors.allocator import Allocator
    from messages import Resources

    started = time.perf_counter()
    allocator = Allocator(allocation_interval=1.0, seed=seed)
    total = Resources.parse(AGENT)
    for i in range(agents):
        allocator.add_agent(f"agent-{i}", total, hostname=f"host-{i}")
    for i in range(frameworks):
        allocator.add_framework(f"framework-{i}", roles=[ROLE])
    setup = time.perf_counter() - started

    allocate_times, decline_times, offers = [], [], []
    for round_no in range(rounds):
        now = float(round_no)
        t0 = time.perf_counter()
        allocations = allocator.allocate(now=now)
        t1 = time.perf_counter()
        for x in allocations:
            allocator.recover(
                x.framework_id, x.agent_id, x.role, x.resources,
                refuse_seconds=REFUSE_SECONDS, now=now,
            )
        t2 = time.perf_counter()
        allocate_times.append(t1 - t0)
        decline_times.append(t2 - t1)
        offers.append(len(allocations))
    return {
        "agents": agents,
        "frameworks": frameworks,
        "rounds": rounds,
        "setup_s": round(setup, 3),
        "allocate_s": [round(t, 4) for t in allocate_times],
        "allocate_min_s": round(min(allocate_times), 4),
        "allocate_median_s": round(statistics.median(allocate_times), 4),
        "allocate_max_s": round(max(allocate_times), 4),
        "decline_median_s": round(statistics.median(decline_times), 4),
        "offers_per_round": offers,
        "filters": sum(allocator.filters_per_role().values()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def describe(r: dict) -> list[str]:
    goal = GOALS.get((r["agents"], r["frameworks"]))
    verdict = "" if goal is None else (
        f"  (goal < {goal} s: {'met' if r['allocate_median_s'] < goal else 'MISSED'})"
    )
    return [
        f"{r['agents']:,} agents x {r['frameworks']:,} frameworks, {r['rounds']} rounds "
        f"(setup {r['setup_s']:.2f} s)",
        f"  allocate(): min {r['allocate_min_s']:.3f} s  median {r['allocate_median_s']:.3f} s"
        f"  max {r['allocate_max_s']:.3f} s{verdict}",
        f"  declines per round (not in the figure above): median {r['decline_median_s']:.3f} s",
        f"  offers per round {r['offers_per_round']}, live filters at the end {r['filters']:,}",
        f"  peak memory (max RSS of this shape's process) {r['peak_rss_mb']:.1f} MB",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small shape")
    parser.add_argument("--shape", action="append", default=[], help="AGENTSxFRAMEWORKS")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inline", action="store_true", help="run in this process (profiling)")
    args = parser.parse_args(argv)

    shapes = [tuple(int(n) for n in s.lower().split("x")) for s in args.shape]
    shapes = shapes or (QUICK if args.quick else FULL)
    results = []
    for agents, frameworks in shapes:
        if args.inline:
            r = run_shape(agents, frameworks, args.rounds, args.seed)
        else:
            code = (
                "import json, sys; sys.path.insert(0, sys.argv[1]);"
                "from tests.benchmarks.allocator import run_shape;"
                "print(json.dumps(run_shape(*map(int, sys.argv[2:]))))"
            )
            out = subprocess.run(
                [sys.executable, "-c", code, str(ROOT), str(agents), str(frameworks),
                 str(args.rounds), str(args.seed)],
                check=True, capture_output=True, text=True, cwd=ROOT,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print("\n".join(describe(r)), flush=True)
    print(json.dumps({
        "benchmark": "allocator.decline_offers",
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "shapes": results,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
