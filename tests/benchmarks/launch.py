"""How fast does the command executor's launch path start tasks? `true` tasks started
directly on its launch path (cgroups, fork, exec, wait for the exit), no broker:

    sudo python tests/benchmarks/launch.py [--tasks 200] [--user nobody]

- `wrapper`: the path before (baseline, in the same run): the task's cgroups v1 made with
  five writes, then `sh` joining them by pid, `python -S become.py` switching user, and
  the task's `sh -c true`, one task after another;
- `born-in`: the path now (`_Launch`): three writes, the launch thread forks the task
  inside its groups (no wrapper), `subprocess` switches user; one after another;
- `pool`: the same on the process runner's launch threads (4), as the executor does it.

Rounds alternate (wrapper, born-in, pool, wrapper, ...). Needs root and cgroups v1 for
the first two to differ. Prints human lines, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.executor.become import become_argv  # noqa: E402
from actors.executor.cgroups_v1 import CONTROLLERS  # noqa: E402
from actors.executor.command import Spawned, _Launch, private_to  # noqa: E402
from actors.executor.limits import detect_limits  # noqa: E402
from actors.executor.processes import ProcessRunner  # noqa: E402
from actors.executor.task_sandbox import create_task_sandbox  # noqa: E402
from actors.executor.task_user import task_user  # noqa: E402
from messages import TaskProcessExited  # noqa: E402


def wrapper_argv(limits, task_id: str, argv: list[str]) -> list[str]:
    """Before: five writes, then a `sh` that joins the groups by pid before it execs."""
    joins = []
    for controller in CONTROLLERS:
        group = limits.group(controller, task_id)
        group.mkdir(exist_ok=True)
        joins.append(str(group / "cgroup.procs"))
    (limits.group("memory", task_id) / "memory.limit_in_bytes").write_text(str(32 << 20))
    (limits.group("memory", task_id) / "memory.swappiness").write_text("0")
    (limits.group("cpu", task_id) / "cpu.cfs_period_us").write_text("100000")
    (limits.group("cpu", task_id) / "cpu.cfs_quota_us").write_text("10000")
    (limits.group("pids", task_id) / "pids.max").write_text("4096")
    script = " && ".join(f"echo $$ > '{p}'" for p in joins)
    return ["sh", "-c", f'{script} && exec "$@"', "mesobus-task", *argv]


def run_round(mode: str, tasks: int, user, limits, box: Path, round_no: int) -> float:
    runner = ProcessRunner()
    done = threading.Semaphore(0)
    post = lambda body: done.release() if isinstance(body, TaskProcessExited) else None  # noqa: E731
    env = {"PATH": "/usr/bin:/bin"}
    start = time.perf_counter()
    for i in range(tasks):
        task_id = f"{mode}-{round_no}-{i}"
        sandbox = create_task_sandbox(box, task_id)
        private_to(sandbox, user)
        if mode == "wrapper":
            argv = wrapper_argv(limits, task_id, become_argv(user.uid, user.gid, user.groups) + ["sh", "-c", "true"])
            runner.start(argv, cwd=sandbox, env=env, stdout=sandbox / "stdout", stderr=sandbox / "stderr",
                         on_exit=lambda code: done.release())
            done.acquire()
            continue
        launch = _Launch(task_id, ["sh", "-c", "true"], 0.1, 32, sandbox, env, user if user.switches else None)
        if mode == "born-in":
            launch.run(runner, limits, Spawned(), post)
            done.acquire()
        else:
            runner.submit(lambda launch=launch: launch.run(runner, limits, Spawned(), post))
    if mode == "pool":
        for _ in range(tasks):
            done.acquire()
    elapsed = time.perf_counter() - start
    runner.close()
    for i in range(tasks):
        limits.release(f"{mode}-{round_no}-{i}")
    return tasks / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200, help="tasks per round (default 200)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--user", default="nobody", help="the tasks' user (default nobody)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("launch.py: run it as root (cgroups, user switch)", file=sys.stderr)
        return 2
    limits = detect_limits("cgroups", scope=f"bench-{os.getpid()}")
    if limits.name != "cgroups-v1":
        print(f"launch.py: needs cgroups v1 (here: {limits.name})", file=sys.stderr)
        return 2
    user = task_user(args.user, "", allow_root=True)
    rates: dict[str, list[float]] = {"wrapper": [], "born-in": [], "pool": []}
    with tempfile.TemporaryDirectory() as box:
        for round_no in range(args.rounds):
            for mode in rates:
                rates[mode].append(run_round(mode, args.tasks, user, limits, Path(box), round_no))
                print(f"round {round_no + 1} {mode}: {rates[mode][-1]:.0f} tasks/s", flush=True)
    time.sleep(1)  # the groups' removal threads
    result = {"benchmark": "launch", "cpus": os.cpu_count(), "tasks": args.tasks, "user": user.name,
              **{f"{mode}_tasks_per_s": round(statistics.median(r), 1) for mode, r in rates.items()}}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
