"""End-to-end throughput of a whole cluster on the real broker, beside raw pika's rate.

    python tests/benchmarks/cluster.py [--tasks 5000] [--true-tasks 2000] [--agents 2]

Each mode gets a fresh private vhost and separate processes: the master (`mesobus
master`), N agents and a framework (tests/support/cluster_framework.py). Measured:

- tasks per second launched and finished end to end, in two modes reported separately:
  `noop` (agents with `--executor-mode noop`: no process per task; checkpointing off, see
  below) and `true` (`mesobus agent` as operators run it: process executors, checkpoints
  on, each task the real command `true`). Rate = tasks / (last terminal update received
  - first Accept sent), both time.perf_counter() in the framework process;
- accept-to-RUNNING latency p50/p99: per task, the framework stamps perf_counter() just
  before it sends the Accept holding it, and again when its TASK_RUNNING arrives;
- messages per task: every message crossing the `mesobus` exchange of the vhost, counted
  by two extra classic queues that are non-durable (so persistent messages stay in
  memory: no extra disk work for the broker) and bound with `#` and with `journal`; at
  the end their message counts are read with a passive declare. Journal records (routing
  key `journal`, written by the master's journal) are subtracted and reported apart.
  Everything from the cluster's start to the framework's teardown is included
  (registrations, pings, heartbeats, allocation ticks): divided by the task count;
- the broker's raw rate in the same run: tests/support/bench_roles.py's raw pika
  publisher (confirms) and consumer, persistent messages, classic queue, same vhost.

Checkpointing in noop mode: `mesobus agent` has no flag for it (AgentConfig.checkpoint),
so noop agents are started by this script (`cluster.py agent ...`, the same start_agent
as the CLI) with checkpoint=False unless --checkpoint. `--journal` keeps the master's
default journal stream (on by default in `mesobus master`; off here unless asked).

Prints human lines, then one JSON object on the LAST line (noop_tasks_per_s,
true_tasks_per_s, launch_p50_ms, launch_p99_ms, messages_per_task, raw_rate, ...).
Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.cluster_framework import ProcessCluster  # noqa: E402

AGENT_RESOURCES = "cpus:64;mem:65536;disk:1000;ports:[31000-32000]"
TASK_CPUS, TASK_MEM = 0.1, 32  # 640 tasks fit on an agent at once
COUNT_ALL, COUNT_JOURNAL = "bench.count.all", "bench.count.journal"
GOAL = 500.0  # no-op tasks per second end to end


# --- the noop agent (checkpoint switchable, unlike `mesobus agent`) ----------------------


def agent_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cluster.py agent")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--resources", default=AGENT_RESOURCES)
    parser.add_argument("--checkpoint", action="store_true")
    parser.add_argument("--executor-mode", default="noop", choices=("noop", "process"))
    args = parser.parse_args(argv)
    from actors.agent import AgentConfig, start_agent
    from actors.cli.common import setup_logging, wait_for_signal
    from actors.connect import connect_transport

    setup_logging(0)
    config = AgentConfig.from_flags(
        resources=args.resources, work_dir=args.work_dir, hostname=args.hostname,
        executor_mode=args.executor_mode, checkpoint=args.checkpoint, broker_url=args.broker,
    )
    transport = connect_transport(args.broker)
    try:
        ref = start_agent(transport, config)
        print(f"benchmark agent {args.hostname}: {args.executor_mode}, checkpoint={args.checkpoint}; Ctrl-C to stop",
              file=sys.stderr)
        wait_for_signal()
        ref.stop()
    finally:
        transport.close()
    return 0


# --- counting what crosses the exchange ------------------------------------------------------


def declare_counters(url: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare("mesobus", "topic", durable=True)
        for queue, key in ((COUNT_ALL, "#"), (COUNT_JOURNAL, "journal")):
            channel.queue_declare(queue, durable=False, arguments={"x-queue-type": "classic", "x-max-length": 50_000_000})
            channel.queue_bind(queue, "mesobus", routing_key=key)
    finally:
        connection.close()


def read_counters(url: str) -> tuple[int, int]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        counts = [channel.queue_declare(q, passive=True).method.message_count for q in (COUNT_ALL, COUNT_JOURNAL)]
    finally:
        connection.close()
    return counts[0], counts[1]


def message_breakdown(url: str) -> dict[str, int]:
    """Drain the counting queue: how many messages of each type went from whom to whom
    ("StatusUpdate agent->master"); journal records are left out."""
    import collections

    import pika

    from messages import MessageError, decode

    tally: collections.Counter[str] = collections.Counter()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=5000)
        for method, _props, body in channel.consume(COUNT_ALL, auto_ack=True, inactivity_timeout=0.5):
            if method is None:
                break
            if method.routing_key == "journal":
                continue
            try:
                env = decode(body)
            except MessageError:
                tally["undecodable"] += 1
                continue
            tally[f"{env.type} {env.sender.split('.')[0]}->{env.target.split('.')[0]}"] += 1
    finally:
        connection.close()
    return dict(tally.most_common())


def wait_counters_settled(url: str, quiet: float = 0.5, timeout: float = 10.0) -> tuple[int, int]:
    """Counts once they stop growing (the teardown's last messages are on their way)."""
    last, deadline = read_counters(url), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = read_counters(url)
        if now == last:
            break
        last = now
    return last


# --- the raw broker rate ---------------------------------------------------------------------


def raw_rate(url: str, messages: int) -> dict[str, Any]:
    from tests.support import bench_roles

    address = f"bench.raw.{os.getpid()}"

    def child(role: str) -> subprocess.Popen:
        argv = [sys.executable, bench_roles.__file__, role, "--url", url, "--address", address, "--count", str(messages)]
        return subprocess.Popen(argv, cwd=ROOT, text=True, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))

    def expect(process: subprocess.Popen, prefix: str) -> dict[str, Any]:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(prefix):
                rest = line[len(prefix):].strip()
                return json.loads(rest) if rest else {}
        raise SystemExit(f"raw {process.args[2]} exited ({process.wait()}) without {prefix!r}")

    consumer = child("raw-consumer")
    expect(consumer, "ready")
    publisher = child("raw-publisher")
    sent, got = expect(publisher, "result"), expect(consumer, "result")
    publisher.wait(60)
    consumer.wait(60)
    bench_roles.delete_queues(url, [address])
    seconds = got["last"] - sent["start"]
    return {"rate": messages / seconds, "seconds": seconds}


# --- one mode ----------------------------------------------------------------------------------


def run_mode(mode: str, args: argparse.Namespace, work: Path, with_raw: bool) -> dict[str, Any]:
    """One cluster in a fresh vhost: the throughput run (and, in noop mode, then the
    unloaded latency run on the same cluster)."""
    from tests.support.vhost import private_vhost

    tasks = args.tasks if mode == "noop" else args.true_tasks
    with private_vhost(f"mesobus-bench-{mode}") as url:
        result: dict[str, Any] = {}
        if with_raw:
            result["raw"] = raw_rate(url, args.raw_messages)
        if args.count:
            declare_counters(url)
        cluster = start_cluster(mode, args, url, work / mode)
        try:
            result.update(run_framework(cluster, args, f"bench-{mode}", work / f"{mode}-summary.json", tasks,
                                        "--per-agent", str(-(-tasks // args.agents))))  # spread evenly
            total, journal = wait_counters_settled(url) if args.count else (0, 0)
            result.update(messages=total - journal, journal_records=journal)
            if args.count:
                result["breakdown"] = message_breakdown(url)
            if mode == "noop" and args.idle_tasks:
                idle = run_framework(cluster, args, "bench-idle", work / "idle-summary.json", args.idle_tasks,
                                     "--per-offer", "1", profile=False)
                result.update(idle_launch_p50_ms=idle["launch_p50_ms"], idle_launch_p99_ms=idle["launch_p99_ms"])
        finally:
            cluster.stop()
    return result


def start_cluster(mode: str, args: argparse.Namespace, url: str, work: Path) -> ProcessCluster:
    """The master (`mesobus master`) and the agents: `mesobus agent` in `true` mode (as
    operators run it: checkpoints on), this script's agent role in noop mode."""
    cluster = ProcessCluster(url, work, ping_interval=args.ping_interval, max_missed_pings=5,
                             allocation_interval=args.allocation_interval)
    try:
        cluster.start_master(*([] if args.journal else ["--no-journal"]))
        cluster.wait_ready()  # the master sets the journal's binding up before anything is sent
        for i in range(1, args.agents + 1):
            host = f"bench-{mode}-{i}"
            if mode == "noop" or not args.true_checkpoint:
                checkpoint = args.checkpoint if mode == "noop" else False
                cluster.agent_dirs[host] = work / host
                cluster.spawn(f"agent-{host}", [
                    sys.executable, __file__, "agent", "--broker", url, "--work-dir", str(work / host),
                    "--hostname", host, "--executor-mode", "noop" if mode == "noop" else "process",
                    *(["--checkpoint"] if checkpoint else []),
                ])
            else:
                cluster.start_agent(host, AGENT_RESOURCES)
        cluster.wait_ready()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def run_framework(cluster: ProcessCluster, args: argparse.Namespace, name: str, summary: Path, tasks: int,
                  *extra: str, profile: bool = True) -> dict[str, Any]:
    """Run the framework process to its end; its summary plus the CPU everyone used."""
    framework = cluster.start_framework(
        name, None, "--tasks", str(tasks), "--command", "true", "--cpus", str(TASK_CPUS), "--mem", str(TASK_MEM),
        "--summary", str(summary), "--name", name, "--timeout", str(args.timeout), *extra,
    )
    pids = {p.name: p.pid for p in cluster.procs if p.alive()}
    pids["framework"] = pids.pop(name)
    profilers = start_profilers(cluster, args.profile_dir, name) if args.profile_dir and profile else []
    usage = CpuSampler(cluster, pids)
    code = usage.wait(framework, args.timeout + 30)
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        profiler.wait(60)
    if code != 0 or not summary.exists():
        raise SystemExit(f"{name}: the framework failed (exit {code})\n{cluster.logs()}")
    return {**json.loads(summary.read_text()), "cpu_s": usage.totals()}


class CpuSampler:
    """User+system CPU seconds used during the run by each process of the cluster
    (executors and their tasks, found by the cluster's marker, summed as "executors")
    and by the broker (beam.smp, read-only), sampled from /proc until the framework exits."""

    def __init__(self, cluster: ProcessCluster, pids: dict[str, int]) -> None:
        self.cluster = cluster
        self.names = {pid: name for name, pid in pids.items()}
        self.broker = [pid for pid in _all_pids() if _comm(pid) == "beam.smp"]
        self.start = {pid: _cpu(pid) for pid in self.broker + list(self.names)}
        self.last: dict[int, float] = {}

    def wait(self, framework: Any, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while framework.popen.poll() is None and time.monotonic() < deadline:
            self.sample()
            time.sleep(0.1)
        self.sample()
        return framework.popen.wait(max(0.0, deadline - time.monotonic()))

    def sample(self) -> None:
        for pid in self.broker + self.cluster.marked_pids():
            used = _cpu(pid)
            if used is not None:
                self.last[pid] = used

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, used in self.last.items():
            name = "broker" if pid in self.broker else self.names.get(pid, "executors")
            out[name] = round(out.get(name, 0.0) + used - (self.start.get(pid) or 0.0), 2)
        return out


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_profilers(cluster: ProcessCluster, directory: str, run: str) -> list[subprocess.Popen]:
    """py-spy record (samples of the thread holding the GIL: where Python spends its CPU)
    on the master, the agents and the framework, while the framework runs."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    out = []
    for proc in cluster.procs:
        if proc.alive():
            target = Path(directory) / f"{run}-{proc.name}.txt"
            out.append(subprocess.Popen(
                ["py-spy", "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "200", "--gil",
                 "-o", str(target)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
    time.sleep(0.5)  # let py-spy attach
    return out


# --- the report ----------------------------------------------------------------------------------


def main() -> int:
    if sys.argv[1:2] == ["agent"]:
        return agent_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000, help="no-op tasks (default: 5000)")
    parser.add_argument("--true-tasks", type=int, default=1000, help="`true` tasks (default: 1000)")
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--raw-messages", type=int, default=30_000, help="for the raw pika rate")
    parser.add_argument("--checkpoint", action="store_true", help="noop agents checkpoint too (fsync per update)")
    parser.add_argument("--true-no-checkpoint", dest="true_checkpoint", action="store_false",
                        help="`true` mode agents without checkpoints (diagnosis: what the fsyncs cost)")
    parser.add_argument("--no-journal", dest="journal", action="store_false",
                        help="master with --no-journal (default: its journal stream on, as `mesobus master` runs)")
    parser.add_argument("--idle-tasks", type=int, default=200,
                        help="noop tasks launched one per offer after the throughput run, for unloaded latency")
    parser.add_argument("--ping-interval", type=float, default=15.0)
    parser.add_argument("--allocation-interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--modes", default="noop,true", help="which modes to run (default: noop,true)")
    parser.add_argument("--no-count", dest="count", action="store_false",
                        help="no counting queues (they cost the broker a second enqueue per message)")
    parser.add_argument("--profile-dir", default=None, help="py-spy the master and agents into this dir")
    args = parser.parse_args()

    modes = [m for m in args.modes.split(",") if m]
    load = os.getloadavg()[0]
    print(f"cluster benchmark {time.strftime('%Y-%m-%d %H:%M %Z')}: {os.cpu_count()} cpus (load average {load:.1f}"
          f" at start), {args.agents} agents ({AGENT_RESOURCES}), tasks cpus:{TASK_CPUS};mem:{TASK_MEM};"
          f" master journal {'on' if args.journal else 'off'}; noop agents checkpoint {'on' if args.checkpoint else 'off'},"
          f" true agents checkpoint {'on' if args.true_checkpoint else 'off'}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mesobus-bench-") as tmp:
        for i, mode in enumerate(modes):
            results[mode] = r = run_mode(mode, args, Path(tmp), with_raw=i == 0)
            if i == 0:
                print(f"  baseline: raw pika {r['raw']['rate']:.0f} msg/s (publisher with confirms + consumer,"
                      f" persistent, classic queue, same vhost)", flush=True)
            report(mode, r, results[modes[0]]["raw"]["rate"], args.count)
    raw = results[modes[0]]["raw"]["rate"]
    summary: dict[str, Any] = {"agents": args.agents, "raw_rate": round(raw), "goal_noop_tasks_per_s": GOAL,
                               "journal": args.journal, "load_at_start": round(load, 2)}
    for mode, r in results.items():
        summary.update({
            f"{mode}_tasks": r["tasks"],
            f"{mode}_tasks_per_s": round(r["tasks_per_s"], 1),
            f"{mode}_launch_p50_ms": round(r["launch_p50_ms"], 2),
            f"{mode}_launch_p99_ms": round(r["launch_p99_ms"], 2),
            f"{mode}_messages_per_task": round(r["messages"] / r["tasks"], 2) if args.count else None,
            f"{mode}_cpu_s": r["cpu_s"],
        })
    first = results[modes[0]]
    summary.update(
        launch_p50_ms=round(first["launch_p50_ms"], 2),
        launch_p99_ms=round(first["launch_p99_ms"], 2),
        messages_per_task=summary[f"{modes[0]}_messages_per_task"],
    )
    if "idle_launch_p50_ms" in first:
        summary.update(idle_launch_p50_ms=round(first["idle_launch_p50_ms"], 2),
                       idle_launch_p99_ms=round(first["idle_launch_p99_ms"], 2))
    print(json.dumps(summary))
    return 0


def report(mode: str, r: dict[str, Any], raw: float, counted: bool) -> None:
    goal = f" (goal >= {GOAL:.0f}: {'met' if r['tasks_per_s'] >= GOAL else 'NOT met'})" if mode == "noop" else ""
    print(f"  {mode}: {r['tasks']} tasks in {r['seconds']:.2f}s = {r['tasks_per_s']:.0f} tasks/s end to end{goal};"
          f" finished {r['finished']}/{r['tasks']}")
    if counted:
        per_task = r["messages"] / r["tasks"]
        rate = r["messages"] / r["seconds"]
        print(f"        {per_task:.1f} messages/task (+{r['journal_records'] / r['tasks']:.2f} journal records/task)"
              f" -> ~{rate:.0f} msg/s through the broker = {rate / raw:.0%} of raw pika's {raw:.0f} msg/s")
    if counted and r.get("breakdown"):
        top = [f"{k} {v / r['tasks']:.2f}" for k, v in r["breakdown"].items() if v / r["tasks"] >= 0.05]
        print("        per task: " + "; ".join(top))
    line = f"        accept->RUNNING under load p50 {r['launch_p50_ms']:.1f} ms, p99 {r['launch_p99_ms']:.1f} ms"
    if "idle_launch_p50_ms" in r:
        line += f"; unloaded (1 task/offer) p50 {r['idle_launch_p50_ms']:.1f} ms, p99 {r['idle_launch_p99_ms']:.1f} ms"
    print(line)
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["cpu_s"].items(), key=lambda kv: -kv[1]))
    print(f"        cpu seconds during the run: {cpu}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
