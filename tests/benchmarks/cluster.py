"""End-to-end throughput of a whole cluster on the real broker, beside raw pika's rate.

    python tests/benchmarks/cluster.py [--tasks 5000] [--true-tasks 1000] [--agents 2]

Each mode gets a fresh private vhost and separate processes: the master (`mesobus
master`, journal stream on as by default; `--no-journal`), N agents and a framework
(tests/support/cluster_framework.py; tasks spread evenly over the agents). Measured:

- tasks per second launched and finished end to end, per mode: `noop` (agents in
  executor mode noop: no process per task) and `true` (`mesobus agent` as operators run
  it: an executor process per framework, each task the command `true`, checkpoints on).
  Rate = tasks / (last terminal update received - first Accept sent), time.perf_counter()
  in the framework process;
- accept-to-RUNNING latency p50/p99: the framework stamps perf_counter() just before it
  sends the Accept holding a task and when the task's TASK_RUNNING arrives. Under load
  (offers packed with up to 640 tasks) that is mostly queueing; after the noop run a
  second framework launches `--idle-tasks` tasks one per offer: the unloaded latency;
- messages per task: every message crossing the vhost's `mesobus` exchange, copied into a
  counting queue bound with `#` (classic, non-durable: persistent messages stay in memory,
  no extra disk work; it does cost the broker a second enqueue per message, ~10-15 % of
  the noop rate: `--no-count`), drained at the end and tallied by type and route.
  Journal records (routing key `journal`) are reported apart. Everything from the
  cluster's start to the framework's teardown counts, divided by the task count;
- the broker's raw rate in the same run and vhost: tests/benchmarks/transport.py's raw
  pika publisher (confirms) and consumer, persistent messages, classic queue;
- CPU seconds each process (and the broker, beam.smp, read from /proc) used meanwhile.

Checkpointing: `mesobus agent` has no flag for it, so noop agents (and `true` agents with
`--true-no-checkpoint`) are started by this script (`cluster.py agent ...`: the CLI's
start_agent with AgentConfig(checkpoint=False)); `--checkpoint` turns it on for noop.

Prints human lines, then one JSON object on the LAST line (noop_tasks_per_s,
true_tasks_per_s, launch_p50_ms, launch_p99_ms, messages_per_task, raw_rate, ...).
Not a test: no assertions. `--profile-dir D` runs py-spy (GIL samples) on every process.
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

from actors.cli.common import positive_int  # noqa: E402  (0 tasks would wait forever)
from tests.support.cluster_framework import ProcessCluster  # noqa: E402

AGENT_RESOURCES = "cpus:64;mem:65536;disk:1000;ports:[31000-32000]"
TASK_CPUS, TASK_MEM = 0.1, 32  # 640 tasks fit on an agent at once
COUNTER = "bench.counter"
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


def _channel_do(url: str, fn: Any) -> Any:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return fn(connection.channel())
    finally:
        connection.close()


def declare_counter(url: str) -> None:
    def declare(channel: Any) -> None:
        channel.exchange_declare("mesobus", "topic", durable=True)
        channel.queue_declare(COUNTER, durable=False, arguments={"x-queue-type": "classic", "x-max-length": 50_000_000})
        channel.queue_bind(COUNTER, "mesobus", routing_key="#")

    _channel_do(url, declare)


def count_messages(url: str, quiet: float = 0.5, timeout: float = 10.0) -> dict[str, int]:
    """Once the counting queue stops growing (the teardown's last messages arrive), drain
    it: {"StatusUpdate agent->master": n, ..., "journal records": n}."""
    from collections import Counter

    from messages import MessageError, decode

    def depth(channel: Any) -> int:
        return channel.queue_declare(COUNTER, passive=True).method.message_count

    last, deadline = _channel_do(url, depth), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        last, before = _channel_do(url, depth), last
        if last == before:
            break

    def drain(channel: Any) -> Counter[str]:
        tally: Counter[str] = Counter()
        channel.basic_qos(prefetch_count=5000)
        for method, _props, body in channel.consume(COUNTER, auto_ack=True, inactivity_timeout=0.5):
            if method is None:
                break
            if method.routing_key == "journal":
                tally["journal records"] += 1
                continue
            try:
                env = decode(body)
            except MessageError:
                tally["undecodable"] += 1
                continue
            tally[f"{env.type} {env.sender.split('.')[0]}->{env.target.split('.')[0]}"] += 1
        return tally

    return dict(_channel_do(url, drain).most_common())


# --- the raw broker rate ---------------------------------------------------------------------


def raw_rate(url: str, messages: int) -> dict[str, Any]:
    """transport.py's raw pika throughput, in this vhost."""
    from tests.benchmarks import transport as bench
    from tests.support import bench_roles

    address = f"bench.raw.{os.getpid()}"
    options = argparse.Namespace(url=url, queue_type="classic", prefetch=1000, messages=messages)
    try:
        return bench.throughput("raw", options, address)
    finally:
        bench_roles.delete_queues(url, [address])


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
            declare_counter(url)
        cluster = start_cluster(mode, args, url, work / mode)
        try:
            result.update(run_framework(cluster, args, f"bench-{mode}", work / f"{mode}-summary.json", tasks,
                                        "--per-agent", str(-(-tasks // args.agents))))  # spread evenly
            if args.count:
                breakdown = count_messages(url)
                journal = breakdown.pop("journal records", 0)
                result.update(messages=sum(breakdown.values()), journal_records=journal, breakdown=breakdown)
            if mode == "noop" and args.idle_tasks:
                idle = run_framework(cluster, args, "bench-idle", work / "idle-summary.json", args.idle_tasks,
                                     "--per-offer", "1", profile=False)
                result.update(idle_launch_p50_ms=idle["launch_p50_ms"], idle_launch_p99_ms=idle["launch_p99_ms"])
        finally:
            cluster.stop()
    return result


def start_cluster(mode: str, args: argparse.Namespace, url: str, work: Path) -> ProcessCluster:
    """The master (`mesobus master`) and the agents: `mesobus agent` in `true` mode (as
    operators run it: checkpoints on), this script's agent role in noop mode. With the
    journal off, every process runs without one (`?journal=0`, what `--no-journal` does
    in each): no copies or records gathered anywhere, not only at the master."""
    if not args.journal:
        url += ("&" if "?" in url else "?") + "journal=0"
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
            time.sleep(0.5)  # scanning /proc costs CPU too
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
    parser.add_argument("--tasks", type=positive_int, default=5000, help="no-op tasks (default: 5000)")
    parser.add_argument("--true-tasks", type=positive_int, default=1000, help="`true` tasks (default: 1000)")
    parser.add_argument("--agents", type=positive_int, default=2)
    parser.add_argument("--raw-messages", type=positive_int, default=30_000, help="for the raw pika rate")
    parser.add_argument("--checkpoint", action="store_true", help="noop agents checkpoint too (fsync per update)")
    parser.add_argument("--true-no-checkpoint", dest="true_checkpoint", action="store_false",
                        help="`true` mode agents without checkpoints (diagnosis: what the fsyncs cost)")
    parser.add_argument("--no-journal", dest="journal", action="store_false",
                        help="no journal: the master with --no-journal, every process with ?journal=0 (default: the master's journal stream on, as `mesobus master` runs)")
    parser.add_argument("--idle-tasks", type=positive_int, default=200,
                        help="noop tasks launched one per offer after the throughput run, for unloaded latency")
    parser.add_argument("--ping-interval", type=float, default=15.0)
    parser.add_argument("--allocation-interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--modes", default="noop,true", help="which modes to run (default: noop,true)")
    parser.add_argument("--no-count", dest="count", action="store_false",
                        help="no counting queue (it costs the broker a second enqueue per message)")
    parser.add_argument("--profile-dir", default=None, help="py-spy (GIL samples) every process into this dir")
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
    per_task = sum(r["cpu_s"].values()) * 1000 / r["tasks"]
    print(f"        cpu seconds during the run: {cpu} (broker: all its vhosts); {per_task:.2f} ms of cpu per task:"
          f" if cpu were the only limit, {os.cpu_count()} cpus would allow ~{os.cpu_count() * 1000 / per_task:.0f}"
          f" tasks/s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
