"""`mesobus run` streaming a task's output (~10 MB) on a real broker: straight from the
executor to the framework (agent and framework of one principal: the baseline) against
through the master (agent and framework of different principals: actors/master/
output_relay.py), in the same run, with the same master. Prints a line per case and, last,
one JSON line.

    python tests/benchmarks/output_relay.py [--mb 10] [--runs 3]

Per case: the time from the first byte of output to the last as `mesobus run` prints it
(MB/s), the whole `mesobus run` (registration, offer, launch, output, teardown), and the
master's CPU time during the run (/proc: what relaying costs it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.cluster_framework import ProcessCluster  # noqa: E402
from tests.support.vhost import private_vhost  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _auth(*words: str) -> None:
    done = subprocess.run([sys.executable, "-m", "actors.cli.main", "auth", *words], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"mesobus auth {' '.join(words)}: {done.stderr.strip()}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _one_run(url: str, master_principal: str, size: int, master_pid: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MESOBUS_MASTER_PRINCIPAL": master_principal}
    cpu_before, began = _cpu_seconds(master_pid), time.perf_counter()
    run = subprocess.Popen([sys.executable, "-m", "actors.cli.main", "run", "-q", "--broker", url, "--",
                            f"yes 0123456789abcdef | head -c {size}"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got, first = 0, None
    assert run.stdout is not None
    while chunk := run.stdout.read1(1 << 16):
        first = first or time.perf_counter()
        got += len(chunk)
    last = time.perf_counter()
    stderr = run.stderr.read().decode(errors="replace") if run.stderr else ""
    code = run.wait(60)
    ended = time.perf_counter()
    if code != 0 or got != size or first is None:
        raise SystemExit(f"mesobus run exited {code} with {got} of {size} bytes:\n{stderr}")
    return {"stream_s": last - first, "run_s": ended - began, "master_cpu_s": _cpu_seconds(master_pid) - cpu_before}


def _case(cluster: ProcessCluster, name: str, agent_url: str, framework_url: str, master_principal: str,
          size: int, runs: int, work: Path) -> dict[str, float]:
    agent = cluster.mesobus(f"agent-{name}", "agent", "--broker", agent_url, "--work-dir", str(work / name),
                            "--resources", "cpus:2;mem:1024", "--hostname", name,
                            "--master-principal", master_principal)
    cluster.wait_log(agent, "Ctrl-C to stop")
    master_pid = next(p.pid for p in cluster.procs if p.name == "master")
    try:
        samples = [_one_run(framework_url, master_principal, size, master_pid) for _ in range(runs)]
    finally:
        agent.popen.send_signal(signal.SIGTERM)  # it unregisters: the next case's agent gets the offers
        agent.popen.wait(30)
    mb = size / 1e6
    out = {key: round(statistics.median(s[key] for s in samples), 3) for key in samples[0]}
    out["mb_per_s"] = round(mb / out["stream_s"], 2)
    print(f"{name:>7}: {mb:.1f} MB streamed in {out['stream_s']:.2f} s ({out['mb_per_s']} MB/s), "
          f"mesobus run {out['run_s']:.2f} s, master cpu {out['master_cpu_s']:.2f} s (median of {runs})", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="output per run, in MB (default 10)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = int(args.mb * 1e6)
    tag = os.urandom(3).hex()
    names = {"master": f"bm_{tag}", "agent": f"ba_{tag}", "framework": f"bf_{tag}"}
    work = Path(tempfile.mkdtemp(prefix="mesobus-relay-bench-"))
    (work / "pw").write_text("bench-secret\n")
    cases = {}
    with private_vhost("mesobus-relay-bench") as guest_url:
        vhost = guest_url.rsplit("/", 1)[1]
        base = guest_url.rsplit("@", 1)[1]
        urls = {k: f"amqp://{n}:bench-secret@{base}" for k, n in names.items()}
        cluster = ProcessCluster(urls["master"], work / "cluster")
        try:
            for kind, name in names.items():
                _auth(f"add-{kind}", name, "--vhost", vhost, "--password-file", str(work / "pw"))
            cluster.wait_log(cluster.start_master("--http", "off"), "mesobus master: leading")
            # One principal (guest) for the agent and the framework: the executor streams straight to it.
            cases["direct"] = _case(cluster, "direct", guest_url, guest_url, names["master"], size, args.runs, work)
            # Different principals: the master relays.
            cases["relay"] = _case(cluster, "relay", urls["agent"], urls["framework"], names["master"], size,
                                   args.runs, work)
        finally:
            cluster.stop()
            for name in names.values():
                subprocess.run(["rabbitmqctl", "-q", "delete_user", name], capture_output=True, timeout=60)
    slower = round(cases["relay"]["stream_s"] / cases["direct"]["stream_s"], 2)
    print(f"through the master: {slower}x the direct path's streaming time")
    print(json.dumps({"benchmark": "output_relay", "mb": args.mb, "runs": args.runs, "cases": cases,
                      "relay_vs_direct": slower, "cpus": os.cpu_count(), "python": platform.python_version()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
