"""A cluster of OS processes on a broker, and the framework that the tests run on it.

The framework (`ClusterFramework`, run as a script) launches N shell tasks `task-0` ..
`task-<N-1>` and writes what happens to it as JSON lines to an events file (flushed per
line), so a test in another process can follow it:

    python tests/support/cluster_framework.py --broker URL --events ev.jsonl --tasks 100 \\
        --command 'echo task-{n}' [--per-agent K] [--failover-timeout 30 --id-file fw.id] [--resume]

    {"event": "registered", "framework_id": "...", "t": 1700000000.1, "pid": 123}
    {"event": "launched", "task_id": "task-0", "agent_id": "...", "hostname": "h1", "t": ...}
    {"event": "status", "task_id": "task-0", "state": "TASK_RUNNING", "reason": "REASON_NONE",
     "source": "SOURCE_EXECUTOR", "uuid": true, "agent_id": "...", "message": "...", "t": ...}
    {"event": "agent_lost", "agent_id": "...", "t": ...}
    {"event": "reconcile_sent", "tasks": [...], "t": ...}
    {"event": "done", "states": {"task-0": "TASK_FINISHED", ...}, "t": ...}

`t` is time.time() in the framework process. `--resume` is the restarted process of a
failover: it launches nothing, reconciles its N tasks explicitly and waits for them to
end. `--summary FILE` writes one JSON object at the end (the benchmark's numbers: first
accept, last terminal update, accept-to-RUNNING latencies, all from time.perf_counter()).
The framework stops (teardown) once every task has ended.

`ProcessCluster` starts the master and agents with the `mesobus` CLI, each in its own
session, with a marker variable in its environment that executors and tasks inherit, so
`stop()` finds and kills every process the cluster left behind:

>>> Events("/nonexistent").read()
[]
>>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50)
3.0
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

MARKER = "MBTEST_CLUSTER"  # not MESOBUS_*: the agent strips those before starting executors
AGENT_RESOURCES = "cpus:4;mem:4096;disk:1000;ports:[31000-32000]"


# --- the framework ------------------------------------------------------------------------


def _framework_class():
    """Defined on first use: importing this module (pytest's doctest run) stays cheap."""
    from actors import Scheduler
    from actors.scheduler.tasks import build_task
    from messages import Offer, TaskState, TaskStatus

    class ClusterFramework(Scheduler):
        def __init__(
            self,
            tasks: int = 10,
            command: str = "echo task-{n}",
            cpus: float = 0.1,
            mem: float = 32,
            per_agent: int = 0,
            per_offer: int = 0,
            resume: bool = False,
            events: str | None = None,
        ) -> None:
            super().__init__()
            self.ids = [f"task-{n}" for n in range(tasks)]
            self.wanted = set(self.ids)  # membership per status update: not a scan of the list
            self.command, self.cpus, self.mem = command, cpus, mem
            self.per_agent, self.per_offer = per_agent, per_offer
            self.resume = resume
            self.pending = deque(() if resume else range(tasks))
            self.on_agent: dict[str, int] = {}
            self.final: dict[str, str] = {}
            self.accepted_at: dict[str, float] = {}  # perf_counter when its Accept was sent
            self.running_latency: list[float] = []
            self.first_accept: float | None = None
            self.last_terminal: float | None = None
            self.events = open(events, "a", buffering=1) if events else None

        def registered(self, framework_id: str, master_info: Any) -> None:
            self._event("registered", framework_id=framework_id)
            if self.resume:
                self.suppress()  # nothing to launch: only our running tasks matter
                self.reconcile(self.ids)
                self._event("reconcile_sent", tasks=self.ids)

        def resource_offers(self, offers: list[Offer]) -> None:
            for offer in offers:
                allowed = len(self.pending)
                if self.per_agent:
                    allowed = min(allowed, self.per_agent - self.on_agent.get(offer.agent_id, 0))
                if self.per_offer:
                    allowed = min(allowed, self.per_offer)
                shape = build_task(offer, "true", task_id="probe", cpus=self.cpus, mem=self.mem).resources
                tasks, free = [], offer.resources
                while len(tasks) < allowed and free.contains(shape):
                    n = self.pending.popleft()
                    task = self.task(offer, self.command.format(n=n), task_id=f"task-{n}", cpus=self.cpus, mem=self.mem)
                    tasks.append(task)
                    free = free - task.resources
                if not tasks:
                    self.decline(offer, 60.0 if not self.pending else 1.0)
                    continue
                now = time.perf_counter()
                self.first_accept = self.first_accept or now
                for task in tasks:
                    self.accepted_at[task.task_id] = now
                    self.on_agent[offer.agent_id] = self.on_agent.get(offer.agent_id, 0) + 1
                    self._event("launched", task_id=task.task_id, agent_id=offer.agent_id, hostname=offer.hostname)
                self.launch(offer, tasks, filters=1.0)
            if not self.pending:
                self.suppress()

        def status_update(self, status: TaskStatus) -> None:
            now = time.perf_counter()
            if status.state is TaskState.TASK_RUNNING and status.task_id in self.accepted_at:
                self.running_latency.append(now - self.accepted_at.pop(status.task_id))
            self._event(
                "status", task_id=status.task_id, state=status.state.value, reason=status.reason.value,
                source=status.source.value, uuid=bool(status.uuid), agent_id=status.agent_id,
                message=status.message[:200],
            )
            if status.state.is_terminal and status.task_id not in self.final and status.task_id in self.wanted:
                self.final[status.task_id] = status.state.value
                self.last_terminal = now
                if len(self.final) == len(self.ids):
                    self._event("done", states=self.final)
                    self.stop()

        def agent_lost(self, agent_id: str) -> None:
            self._event("agent_lost", agent_id=agent_id)

        def error(self, message: str) -> None:
            self._event("error", message=message)

        def summary(self) -> dict[str, Any]:
            lat = sorted(self.running_latency)
            seconds = (self.last_terminal or 0.0) - (self.first_accept or 0.0)
            return {
                "tasks": len(self.ids),
                "ended": len(self.final),
                "finished": sum(1 for s in self.final.values() if s == TaskState.TASK_FINISHED.value),
                "seconds": seconds,
                "tasks_per_s": len(self.final) / seconds if seconds > 0 else 0.0,
                "launch_p50_ms": percentile(lat, 50) * 1000 if lat else None,
                "launch_p99_ms": percentile(lat, 99) * 1000 if lat else None,
                "launch_samples": len(lat),
                "cpu_s": round(time.process_time(), 2),  # this whole process: user + system
            }

        def _event(self, kind: str, **fields: Any) -> None:
            if self.events is not None:
                self.events.write(json.dumps({"event": kind, "t": time.time(), "pid": os.getpid(), **fields}) + "\n")

    return ClusterFramework


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile, nearest rank (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
    return ordered[int(rank) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the integration tests' framework (see the module doc)")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--events", default=None, help="JSON lines of what happens (default: none)")
    parser.add_argument("--summary", default=None, help="one JSON object with the numbers, at the end")
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--command", default="echo task-{n}", help="a shell line; {n} is the task's number")
    parser.add_argument("--cpus", type=float, default=0.1)
    parser.add_argument("--mem", type=float, default=32)
    parser.add_argument("--per-agent", type=int, default=0, help="at most this many tasks per agent (0: no cap)")
    parser.add_argument("--per-offer", type=int, default=0, help="at most this many tasks per offer (0: no cap)")
    parser.add_argument("--failover-timeout", type=float, default=0.0)
    parser.add_argument("--id-file", default=None)
    parser.add_argument("--resume", action="store_true", help="a restarted process: reconcile, launch nothing")
    parser.add_argument("--name", default="cluster-test")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up (teardown) after this long")
    args = parser.parse_args(argv)
    handle = _framework_class().run(
        args.broker, name=args.name, failover_timeout=args.failover_timeout, id_file=args.id_file,
        tasks=args.tasks, command=args.command, cpus=args.cpus, mem=args.mem, per_agent=args.per_agent,
        per_offer=args.per_offer,
        resume=args.resume, events=args.events,
    )
    done = handle.join(args.timeout)
    if not done:
        handle.stop()
    if args.summary:
        Path(args.summary).write_text(json.dumps(handle.scheduler.summary()))
    return 0 if done and not handle.error else 1


# --- following the events file ------------------------------------------------------------


class Events:
    """Reads a framework's events file; `wait(predicate)` polls it until true."""

    def __init__(self, path: str | os.PathLike[str], describe: Callable[[], str] = lambda: "") -> None:
        self.path = Path(path)
        self.describe = describe  # more context for a timeout (process logs)

    def read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def statuses(self, task_id: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.read() if e["event"] == "status" and task_id in (None, e["task_id"])]

    def wait(self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float, what: str) -> Any:
        """Poll until `predicate(events)` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.read()
            value = predicate(events)
            if value:
                return value
            if time.monotonic() > deadline:
                tail = "\n".join(json.dumps(e) for e in events[-15:])
                raise AssertionError(f"timed out after {timeout}s waiting for {what}\nlast events:\n{tail}\n{self.describe()}")
            time.sleep(0.05)


def latest_states(events: list[dict[str, Any]]) -> dict[str, str]:
    """task id -> the latest state the framework was told (reconciliation answers included)."""
    return {e["task_id"]: e["state"] for e in events if e["event"] == "status"}


# --- the cluster's processes ----------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class ProcessCluster:
    """A master, agents and frameworks as processes on `url` (use a private vhost).

    >>> cluster = ProcessCluster("amqp://guest:guest@127.0.0.1:5672/x", Path("/tmp/c"))  # doctest: +SKIP
    >>> cluster.start_master(); cluster.start_agent("h1")                                # doctest: +SKIP
    >>> cluster.stop()   # SIGKILLs every process group, then whatever carries the marker  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        work_dir: Path,
        *,
        ping_interval: float = 0.5,
        max_missed_pings: int = 4,
        allocation_interval: float = 0.2,
    ) -> None:
        self.url = url
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.ping_interval, self.max_missed_pings = ping_interval, max_missed_pings
        self.allocation_interval = allocation_interval
        self.marker = f"{os.getpid()}-{os.urandom(4).hex()}"
        self.procs: list[Proc] = []
        self.agents: dict[str, Proc] = {}  # hostname -> its agent process
        self.agent_dirs: dict[str, Path] = {}  # hostname -> work dir

    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        """Start a process in its own session, output to `<work_dir>/logs/<name>.log`."""
        log = self.work_dir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **(env or {}))
        full_env[MARKER] = self.marker
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                list(argv), cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def mesobus(self, name: str, *args: str) -> Proc:
        return self.spawn(name, [sys.executable, "-m", "actors.cli.main", *args])

    def start_master(self, *extra: str, name: str = "master") -> Proc:
        return self.mesobus(
            name, "master", "--broker", self.url, "--ping-interval", str(self.ping_interval),
            "--max-missed-pings", str(self.max_missed_pings), "--allocation-interval", str(self.allocation_interval),
            *extra,
        )

    def start_agent(self, hostname: str, resources: str = AGENT_RESOURCES, *extra: str) -> Proc:
        work = self.work_dir / hostname
        self.agent_dirs[hostname] = work
        self.agents[hostname] = self.mesobus(
            f"agent-{hostname}", "agent", "--broker", self.url, "--work-dir", str(work), "--resources", resources,
            "--hostname", hostname, *extra,
        )
        return self.agents[hostname]

    def start_framework(self, name: str, events: Path | None, *args: str) -> Proc:
        argv = [sys.executable, str(Path(__file__).resolve()), "--broker", self.url]
        if events is not None:
            argv += ["--events", str(events)]
        return self.spawn(name, argv + list(args))

    def wait_log(self, proc: Proc, text: str, timeout: float = 30.0) -> None:
        """Wait until `text` appears in the process' output (e.g. its ready line)."""
        deadline = time.monotonic() + timeout
        while text not in proc.tail(100_000):
            if not proc.alive() or time.monotonic() > deadline:
                raise AssertionError(f"{proc.name} did not say {text!r} (exit {proc.popen.poll()})\n{self.logs()}")
            time.sleep(0.05)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """The first master leads and every agent started so far has said it runs."""
        for proc in self.procs:
            if proc.name == "master":
                self.wait_log(proc, "mesobus master: leading", timeout)
            elif proc.name.startswith("agent-"):
                self.wait_log(proc, "Ctrl-C to stop", timeout)

    def kill(self, proc: Proc) -> None:
        """SIGKILL this one process (not its group: an agent's executors live on)."""
        if proc.alive():
            proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(10)

    def marked_pids(self) -> list[int]:
        """Live processes carrying this cluster's marker: ours, executors, tasks."""
        wanted = f"{MARKER}={self.marker}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    status = (entry / "stat").read_text()
                    if status.rsplit(")", 1)[1].split()[0] != "Z":  # zombies are only waiting for a reaper
                        found.append(int(entry.name))
            except OSError:
                continue  # gone, or not ours to read
        return found

    def stop(self) -> list[int]:
        """Kill everything (process groups first, then marked strays); returns the
        pids of strays that were still running after their group was killed."""
        for proc in self.procs:
            if proc.alive():
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass
        strays = self.marked_pids()
        for _ in range(20):
            pids = self.marked_pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)
        return strays

    def logs(self, chars: int = 2000) -> str:
        return "\n".join(f"--- {p.name} (exit {p.popen.poll()}) ---\n{p.tail(chars)}" for p in self.procs)


def sandbox_stdouts(agent_dir: Path, framework_id: str, task_id: str) -> list[Path]:
    """The task's stdout files under an agent's work dir (docs/agent.md's layout)."""
    runs = agent_dir / "frameworks" / framework_id / "executors" / "mesobus-command" / "runs"
    return sorted(p for p in runs.glob(f"*/tasks/{task_id}/stdout") if p.parent.parent.parent.name != "latest")


if __name__ == "__main__":
    sys.exit(main())
