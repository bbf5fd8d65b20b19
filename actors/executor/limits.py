"""Enforcing a command task's cpus and mem: cgroups v2 where possible, else cgroups v1
(`cgroups_v1.py`), rlimits only as the last fallback.

>>> limits = detect_limits("rlimits")
>>> limits.name
'rlimits'
>>> limits.wrap(["sh", "-c", "echo hi"], "t1", cpus=0.5, mem_mb=64)[:3]
['sh', '-c', 'ulimit -v 65536 && exec "$@"']

- cgroups v2 (when /sys/fs/cgroup is a writable cgroup2 mount offering the memory and cpu
  controllers): each task gets its own cgroup under /sys/fs/cgroup/mesobus/ with
  `memory.max` = mem (swap off), `cpu.max` = cpus x 100 ms per 100 ms and
  `memory.oom.group` = 1 (an OOM kill ends the whole task); `cgroup.kill` ends stragglers. A task the kernel
  OOM-kills shows up in `memory.events` (oom_kill), so it is reported as
  REASON_CONTAINER_LIMITATION_MEMORY.
- rlimits otherwise: RLIMIT_AS (`ulimit -v`) = mem caps the task's address space (virtual
  memory, which is more than what it really uses: runtimes that reserve big address ranges
  need more than their resident size). The cpu share cannot be capped with rlimits (only
  total CPU time, RLIMIT_CPU, or priority, nice), so cpus is not enforced. A memory failure
  is recognised, when it can be, from the task's stderr (MemoryError, "Cannot allocate
  memory", bad_alloc, "out of memory").
- none: nothing is enforced (MESOBUS_LIMITS=none).

The choice is made once when the executor starts and said in a log line.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

from actors.executor.cgroups_v1 import CgroupV1Limits, cgroup_v1_problem

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
_MEMORY_FAILURE = re.compile(rb"MemoryError|Cannot allocate memory|bad_alloc|[Oo]ut of memory")


class Limits(Protocol):
    name: str
    # Whether wrap()'s argv must start as root (it joins cgroups itself): the task's user
    # is then taken on after it (become.py), not by the process runner.
    wrapper_as_root: bool

    def describe(self) -> str: ...

    def wrap(self, argv: list[str], task_id: str, *, cpus: float, mem_mb: float) -> list[str]:
        """The argv that runs `argv` under the task's limits (same pid: the wrapper execs)."""

    def joined(self, task_id: str) -> AbstractContextManager[None]:
        """Around the start of the task's process (in the thread that starts it): what is
        needed for the process to be born under the limits (cgroups v1 moves the thread)."""

    def memory_limited(self, task_id: str, returncode: int, stderr: Path | None) -> bool:
        """Whether the task's end was caused by its memory limit (as far as can be told)."""

    def release(self, task_id: str) -> None:
        """Clean up after the task (its cgroup)."""


class NoLimits:
    name = "none"
    wrapper_as_root = False

    def describe(self) -> str:
        return "none: task cpus and mem are not enforced"

    def wrap(self, argv: list[str], task_id: str, *, cpus: float, mem_mb: float) -> list[str]:
        return list(argv)

    def joined(self, task_id: str) -> AbstractContextManager[None]:
        return nullcontext()

    def memory_limited(self, task_id: str, returncode: int, stderr: Path | None) -> bool:
        return False

    def release(self, task_id: str) -> None:
        pass


class RlimitLimits(NoLimits):
    name = "rlimits"

    def describe(self) -> str:
        return "rlimits: mem as RLIMIT_AS (address space); cpus not capped (rlimits cannot share cpu)"

    def wrap(self, argv: list[str], task_id: str, *, cpus: float, mem_mb: float) -> list[str]:
        if mem_mb <= 0:
            return list(argv)
        return ["sh", "-c", f'ulimit -v {int(mem_mb * 1024)} && exec "$@"', "mesobus-task", *argv]

    def memory_limited(self, task_id: str, returncode: int, stderr: Path | None) -> bool:
        if returncode == 0 or stderr is None:
            return False
        return bool(_MEMORY_FAILURE.search(_tail(stderr)))


class CgroupV2Limits(NoLimits):
    name = "cgroups-v2"
    wrapper_as_root = True  # its wrapper writes cgroup.procs, which the task's user may not

    def __init__(self, root: Path = CGROUP_ROOT, parent: str = "mesobus") -> None:
        self.root = Path(root)
        self.parent = self.root / parent

    def describe(self) -> str:
        return f"cgroups v2 at {self.parent}: memory.max (swap off) and cpu.max per task"

    def setup(self) -> None:
        """Create the parent cgroup and enable the memory and cpu controllers below it."""
        self.parent.mkdir(exist_ok=True)
        for where in (self.root, self.parent):
            enabled = (where / "cgroup.subtree_control").read_text().split()
            if not {"memory", "cpu"} <= set(enabled):
                (where / "cgroup.subtree_control").write_text("+memory +cpu")

    def cgroup(self, task_id: str) -> Path:
        return self.parent / ("task-" + re.sub(r"[^A-Za-z0-9_.-]", "_", task_id))

    def wrap(self, argv: list[str], task_id: str, *, cpus: float, mem_mb: float) -> list[str]:
        group = self.cgroup(task_id)
        group.mkdir(exist_ok=True)
        if mem_mb > 0:
            (group / "memory.max").write_text(str(int(mem_mb * 1024 * 1024)))
            swap = group / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
        if cpus > 0:
            quota = max(int(cpus * CPU_PERIOD_US), 1000)
            (group / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
        oom_group = group / "memory.oom.group"
        if oom_group.exists():  # the OOM killer ends the whole task, not one of its processes
            oom_group.write_text("1")
        # The wrapper moves itself into the cgroup, then execs the task (same pid).
        procs = str(group / "cgroup.procs").replace("'", "'\\''")
        return ["sh", "-c", f"echo $$ > '{procs}' && exec \"$@\"", "mesobus-task", *argv]

    def memory_limited(self, task_id: str, returncode: int, stderr: Path | None) -> bool:
        try:
            events = (self.cgroup(task_id) / "memory.events").read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in events.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0") or 0) > 0

    def release(self, task_id: str) -> None:
        group = self.cgroup(task_id)
        try:
            (group / "cgroup.kill").write_text("1")  # stragglers that left the task's session
        except OSError:
            pass  # an older kernel, or already gone
        try:
            group.rmdir()
        except OSError:
            pass  # still has processes (they are being killed) or already gone


def detect_limits(
    mode: str = "auto", root: Path = CGROUP_ROOT, mounts: Path = Path("/proc/mounts"), *, scope: str = "",
) -> Limits:
    """The enforcement to use: `auto` picks cgroups v2 when usable, else cgroups v1, else
    rlimits. `scope` keeps the cgroups of one executor apart from another's (same task ids)."""
    if mode == "none":
        return NoLimits()
    if mode == "rlimits":
        return RlimitLimits()
    why = cgroup_v2_problem(root, mounts)
    if why is None:
        cgroups = CgroupV2Limits(root)
        try:
            cgroups.setup()
            return cgroups
        except OSError as err:
            why = f"cannot set up {cgroups.parent}: {err}"
    why_v1 = cgroup_v1_problem(root, mounts)
    if why_v1 is None:
        v1 = CgroupV1Limits(root, scope=scope)
        try:
            v1.setup()
            return v1  # type: ignore[return-value]
        except OSError as err:
            why_v1 = f"cannot set up {root}/*/{v1.parent}: {err}"
    if mode == "cgroups":
        raise RuntimeError(f"MESOBUS_LIMITS=cgroups but no cgroups can be used: v2: {why}; v1: {why_v1}")
    log.info("cgroups not used (v2: %s; v1: %s)", why, why_v1)
    return RlimitLimits()


def cgroup_v2_problem(root: Path = CGROUP_ROOT, mounts: Path = Path("/proc/mounts")) -> str | None:
    """Why cgroups v2 cannot be used at `root`, or None when it can."""
    try:
        table = mounts.read_text()
    except OSError as err:
        return f"cannot read {mounts}: {err}"
    kinds = {fields[1]: fields[2] for fields in (line.split() for line in table.splitlines()) if len(fields) > 2}
    if kinds.get(str(root)) != "cgroup2":
        return f"{root} is not a cgroup2 mount (it is {kinds.get(str(root), 'not mounted')})"
    if not os.access(root, os.W_OK):
        return f"{root} is not writable"
    try:
        controllers = (Path(root) / "cgroup.controllers").read_text().split()
    except OSError as err:
        return f"cannot read {root}/cgroup.controllers: {err}"
    missing = {"memory", "cpu"} - set(controllers)
    if missing:
        return f"controllers {', '.join(sorted(missing))} not available at {root}"
    return None


def _tail(path: Path, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - size, 0))
            return f.read()
    except OSError:
        return b""
