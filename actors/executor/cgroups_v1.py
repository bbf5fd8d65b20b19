"""Task limits with cgroups v1 (memory, cpu, pids), for hosts that mount the v1 hierarchies
(each controller at /sys/fs/cgroup/<controller>).

Each task gets `mesobus/<scope>-task-<id>` under the memory, cpu and pids hierarchies:
`memory.limit_in_bytes` = mem (swappiness 0), `cpu.cfs_quota_us` = cpus x 100 ms per
100 ms, `pids.max` = MAX_PIDS. The task is born in them: the thread that starts it moves
itself into the task's groups (`joined`: "0" written to each group's `tasks`, which moves
the writing thread alone), forks the task there, and moves back (then the cpu quota is
written: a throttled launch thread would hold the GIL). So no wrapper process
joins the groups, every child the task starts is in them too (the limits apply to the
whole task), and the task's user needs no right on the groups. Three writes per task
set the limits: swappiness is inherited from the parent group (set once) and
`cpu.cfs_period_us` is 100 ms already in a new group.

v1's OOM killer ends one process of the group; a watcher thread notices the group's
`oom_kill` count rise and kills every process left in it, so the task ends as a whole and
is reported as REASON_CONTAINER_LIMITATION_MEMORY. On release, stragglers (children that
left the task's session) are killed and the groups removed.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

V1_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000
MAX_PIDS = 4096  # a fork bomb stops here, not at the host's limit
WATCH_SECONDS = 0.2


def cgroup_v1_problem(root: Path = V1_ROOT, mounts: Path = Path("/proc/mounts")) -> str | None:
    """Why cgroups v1 cannot be used at `root`, or None when it can."""
    try:
        table = mounts.read_text()
    except OSError as err:
        return f"cannot read {mounts}: {err}"
    mounted = {f[1]: (f[2], f[3]) for f in (line.split() for line in table.splitlines()) if len(f) > 3}
    for controller in CONTROLLERS:
        where = root / controller
        kind, options = mounted.get(str(where), ("", ""))
        if kind != "cgroup" or controller not in options.split(","):
            return f"{where} is not a cgroup v1 {controller} hierarchy"
        if not os.access(where, os.W_OK):
            return f"{where} is not writable"
    return None


class CgroupV1Limits:
    name = "cgroups-v1"
    wrapper_as_root = False  # no wrapper at all: the task is forked inside its groups

    def __init__(self, root: Path = V1_ROOT, parent: str = "mesobus", scope: str = "") -> None:
        self.root = Path(root)
        self.parent = parent
        self.scope = re.sub(r"[^A-Za-z0-9_.-]", "_", scope)[:64]
        self._watched: dict[str, int] = {}  # task id -> oom_kill count when it started
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._swappiness_inherited = False
        self._quotas: dict[str, str] = {}  # task id -> cpu.cfs_quota_us, until the task is born

    def describe(self) -> str:
        return (f"cgroups v1 at {self.root}/{{memory,cpu,pids}}/{self.parent}: memory.limit_in_bytes, "
                f"cpu.cfs_quota_us and pids.max per task, children included")

    def setup(self) -> None:
        for controller in CONTROLLERS:
            (self.root / controller / self.parent).mkdir(exist_ok=True)
        try:  # a new group takes its parent's swappiness: one write here, none per task
            (self.root / "memory" / self.parent / "memory.swappiness").write_text("0")
            self._swappiness_inherited = True
        except OSError:
            pass

    def group(self, controller: str, task_id: str) -> Path:
        name = f"{self.scope}-task-" + re.sub(r"[^A-Za-z0-9_.-]", "_", task_id)
        return self.root / controller / self.parent / name[:240]

    def wrap(self, argv: list[str], task_id: str, *, cpus: float, mem_mb: float) -> list[str]:
        """Create the task's groups with its limits; the task itself is started in
        `joined(task_id)`, so `argv` is returned as it is."""
        for controller in CONTROLLERS:
            self.group(controller, task_id).mkdir(exist_ok=True)
        memory = self.group("memory", task_id)
        if mem_mb > 0:
            (memory / "memory.limit_in_bytes").write_text(str(int(mem_mb * 1024 * 1024)))
            if not self._swappiness_inherited:
                _write_quietly(memory / "memory.swappiness", "0")
        if cpus > 0:  # written once the task is born (joined): it must not throttle the launcher
            with self._lock:
                self._quotas[task_id] = str(max(int(cpus * CPU_PERIOD_US), 1000))
        (self.group("pids", task_id) / "pids.max").write_text(str(MAX_PIDS))
        self._watch(task_id)
        return list(argv)

    @contextmanager
    def joined(self, task_id: str) -> Iterator[None]:
        """Run the body with the calling thread (only it) in the task's groups: a process
        it forks meanwhile starts inside them. Writing "0" to `tasks` moves the writer
        without the global lock a move by pid takes (kernel >= 5.16), so threads of a
        launch pool can do this side by side. The task's cpu quota is written after the
        thread has left: throttled inside, it would hold the GIL, and so hold up every
        thread of this process, for the rest of the quota's period."""
        home = _own_groups()
        moved: list[str] = []
        try:
            for controller in CONTROLLERS:
                (self.group(controller, task_id) / "tasks").write_text("0")
                moved.append(controller)
            yield
        finally:
            for controller in moved:
                try:
                    (self.root / controller / home.get(controller, "/").lstrip("/") / "tasks").write_text("0")
                except OSError as err:  # this thread would start later tasks in the wrong group
                    log.error("cannot move the launching thread back to its %s group: %s", controller, err)
                    raise
        with self._lock:
            quota = self._quotas.pop(task_id, None)
        if quota is not None:  # the task (and any child) is in the group already: all of it is capped
            (self.group("cpu", task_id) / "cpu.cfs_quota_us").write_text(quota)

    def memory_limited(self, task_id: str, returncode: int, stderr: Path | None) -> bool:
        return self._oom_kills(task_id) > 0

    def release(self, task_id: str) -> None:
        with self._lock:
            self._watched.pop(task_id, None)
            self._quotas.pop(task_id, None)
        # Not a daemon: a process that exits right after (an executor stopping with its tasks)
        # still removes the groups before it ends, instead of leaving them for good.
        threading.Thread(target=self._remove, args=(task_id,), name=f"cgroup-release-{task_id[:32]}",
                         daemon=False).start()

    # --- the whole task ---------------------------------------------------------------

    def kill_all(self, task_id: str) -> int:
        """SIGKILL every process in the task's groups; returns how many were signalled."""
        pids: set[int] = set()
        for controller in CONTROLLERS:
            try:
                text = (self.group(controller, task_id) / "cgroup.procs").read_text()
            except OSError:
                continue
            pids.update(int(p) for p in text.split() if p.isdigit())
        pids.discard(os.getpid())  # never this executor (a launch thread in the group's moment)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return len(pids)

    def _remove(self, task_id: str) -> None:
        deadline = time.monotonic() + 10.0
        for controller in CONTROLLERS:
            group = self.group(controller, task_id)
            while group.exists():
                self.kill_all(task_id)
                try:
                    group.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        log.warning("could not remove %s: processes remain in it", group)
                        break
                    time.sleep(0.05)

    def _oom_kills(self, task_id: str) -> int:
        try:
            text = (self.group("memory", task_id) / "memory.oom_control").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def _watch(self, task_id: str) -> None:
        with self._lock:
            self._watched[task_id] = self._oom_kills(task_id)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_loop, name="cgroup-oom-watch", daemon=True)
                self._watcher.start()

    def _watch_loop(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            with self._lock:
                watched = dict(self._watched)
            for task_id, before in watched.items():
                if self._oom_kills(task_id) > before:
                    log.info("task %s reached its memory limit: ending the whole task", task_id)
                    self.kill_all(task_id)
                    with self._lock:
                        self._watched.pop(task_id, None)


def _own_groups() -> dict[str, str]:
    """The calling thread's group path in each v1 hierarchy (from /proc/thread-self/cgroup)."""
    groups = {}
    with open("/proc/thread-self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                groups[controller] = path
    return groups


def _write_quietly(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass
