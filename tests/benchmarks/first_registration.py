"""N agents registering with a master for the first time, at once: the cost of writing
their admissions to the registry (a RabbitMQ stream, publisher-confirmed) before they
are answered.

    python tests/benchmarks/first_registration.py [--agents 1000] [--agent-processes 4]
        [--rounds 3] [--before DIR]

Each run, on a fresh private vhost of the shared broker: the master's mailbox is
declared, the agent processes start (`failover.py agents`: N / P noop agents per
process, each with its own mailbox) and send their RegisterAgent, which wait in that
mailbox (with their retries) while no master runs; then `mesobus master --no-journal`
starts and finds them all at once, each one a new `AgentAdmission` (and `PrincipalBound`)
in the registry. Measured (time.time() in every process, one host): from the moment the
master says it leads (its log, polled every 10 ms; it may have started answering just
before) until the last agent got its AgentRegistered (`all_agents_s`), and from the
first answer to the last (`first_to_last_s`, which leaves out the master's start).

`--before DIR`: also run the master from the source tree DIR (e.g. the commit before a
change: `git archive <commit> | tar -x -C DIR`), alternating with this tree's in every
round (which goes first alternates too), so that both meet the same host load; the agents
always run this tree's code. Prints a line per run, then one JSON object on the LAST line:
{"agents": N, "runs": [{"variant": "after", "all_agents_s": ..., ...}, ...],
 "median": {"after": {...}, "before": {...}}}. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FAILOVER = ROOT / "tests" / "benchmarks" / "failover.py"  # its `agents` command: timed agents
# The master of another source tree: `-c` so that it, not the working directory, is first on sys.path.
_MASTER_FROM = "import sys; sys.path.insert(0, sys.argv.pop(1)); from actors.cli.main import main; sys.exit(main())"


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def declare_master_mailbox(url: str) -> None:
    """`mesobus.master`, as the master declares it: requests wait there until it runs."""
    from rabbitmq import AmqpTransport

    transport = AmqpTransport(url)
    try:
        transport.subscribe("master", lambda delivery: None)
        transport.unsubscribe("master")
    finally:
        transport.close()


def one_run(args: argparse.Namespace, variant: str, source: Path | None) -> dict[str, Any]:
    from tests.support.cluster_framework import ProcessCluster
    from tests.support.vhost import private_vhost

    with private_vhost("mesobus-firstreg-bench") as url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster = ProcessCluster(url, work, ping_interval=15.0, max_missed_pings=5, allocation_interval=1.0)
        try:
            declare_master_mailbox(url)
            events = [work / f"agents-{p}.txt" for p in range(args.agent_processes)]
            per = -(-args.agents // args.agent_processes)
            for p in range(args.agent_processes):
                first, count = p * per, min(per, args.agents - p * per)
                proc = cluster.spawn(f"agents-{p}", [
                    sys.executable, str(FAILOVER), "agents", "--broker", url, "--first", str(first),
                    "--count", str(count), "--work-dir", str(work / "agents"), "--events", str(events[p]),
                ])
                cluster.wait_log(proc, "started", 600)
            time.sleep(args.settle)
            master_args = ["master", "--broker", url, "--no-journal", "--ping-interval", "15",
                           "--max-missed-pings", "5", "--allocation-interval", "1"]
            if source is None:
                master = cluster.mesobus("master", *master_args)
            else:
                master = cluster.spawn("master", [sys.executable, "-c", _MASTER_FROM, str(source), *master_args])
            deadline = time.monotonic() + 120
            while "mesobus master: leading" not in master.tail(100_000):
                if not master.alive() or time.monotonic() > deadline:
                    raise SystemExit(f"first_registration.py: the master did not lead\n{cluster.logs()}")
                time.sleep(0.01)
            leading = time.time()

            def answered() -> dict[str, float]:
                first: dict[str, float] = {}
                for path in events:
                    for line in read_lines(path):
                        fields = line.split()
                        if len(fields) == 3:  # not a line being written
                            first.setdefault(fields[0], float(fields[2]))
                return first

            deadline = time.monotonic() + 600
            while len(back := answered()) < args.agents:
                if not master.alive() or time.monotonic() > deadline:
                    raise SystemExit(f"first_registration.py: {len(back)} of {args.agents} agents registered\n"
                                     f"{cluster.logs()}")
                time.sleep(0.05)
            times = sorted(back.values())
            return {
                "variant": variant,
                "all_agents_s": round(times[-1] - leading, 3),
                "first_to_last_s": round(times[-1] - times[0], 3),
                "median_agent_s": round(times[len(times) // 2] - leading, 3),
                "load_average": round(os.getloadavg()[0], 1),  # the host is shared: how busy it was
            }
        finally:
            cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--agent-processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a source tree whose master runs as 'before'")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between the agents' start and the master's")
    args = parser.parse_args()
    if args.agents < 1 or args.agent_processes < 1 or args.rounds < 1:
        parser.error("--agents, --agent-processes and --rounds must be at least 1")
    if args.before is not None and not (args.before / "actors" / "cli" / "main.py").is_file():
        parser.error(f"--before {args.before}: not a mesobus source tree (no actors/cli/main.py)")
    variants: list[tuple[str, Path | None]] = [("after", None)]
    if args.before is not None:
        variants.append(("before", args.before.resolve()))
    runs = []
    for n in range(args.rounds):
        for variant, source in variants if n % 2 == 0 else list(reversed(variants)):
            result = one_run(args, variant, source)
            runs.append(result)
            print(f"round {n + 1} {variant}: all {args.agents} agents registered {result['all_agents_s']:.2f}s "
                  f"after the master led (first to last answer {result['first_to_last_s']:.2f}s; "
                  f"load {result['load_average']})", file=sys.stderr)
    median = {
        variant: {key: round(statistics.median(r[key] for r in runs if r["variant"] == variant), 3)
                  for key in ("all_agents_s", "first_to_last_s", "median_agent_s")}
        for variant, _ in variants
    }
    print(json.dumps({"agents": args.agents, "agent_processes": args.agent_processes, "runs": runs,
                      "median": median}))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
