"""Task limits: which enforcement is chosen, and what each one does to a task."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from actors.executor.limits import CgroupV2Limits, NoLimits, RlimitLimits, cgroup_v2_problem, detect_limits


def fake_cgroup_root(tmp_path: Path, controllers: str = "cpuset cpu io memory pids") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "mesobus").mkdir()  # the kernel gives a new cgroup its files; a plain dir does not
    (root / "mesobus" / "cgroup.subtree_control").write_text("")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"proc /proc proc rw 0 0\ncgroup2 {root} cgroup2 rw,nosuid 0 0\n")
    return root, mounts


def test_cgroup2_mount_with_memory_and_cpu_is_usable(tmp_path):
    root, mounts = fake_cgroup_root(tmp_path)
    assert cgroup_v2_problem(root, mounts) is None


def test_tmpfs_with_v1_hierarchies_is_not_cgroup2(tmp_path):
    root, _ = fake_cgroup_root(tmp_path)
    mounts = tmp_path / "v1"
    mounts.write_text(f"tmpfs {root} tmpfs rw 0 0\ncgroup {root}/memory cgroup rw,memory 0 0\n")
    assert "is not a cgroup2 mount (it is tmpfs)" in cgroup_v2_problem(root, mounts)
    assert detect_limits("auto", root, mounts).name == "rlimits"


def test_missing_controllers_mean_rlimits(tmp_path):
    root, mounts = fake_cgroup_root(tmp_path, controllers="hugetlb")
    assert "controllers cpu, memory not available" in cgroup_v2_problem(root, mounts)
    assert detect_limits("auto", root, mounts).name == "rlimits"


def test_cgroups_required_but_unusable_is_an_error(tmp_path):
    root, mounts = fake_cgroup_root(tmp_path, controllers="hugetlb")
    with pytest.raises(RuntimeError, match="MESOBUS_LIMITS=cgroups but no cgroups can be used: v2: .*; v1: "):
        detect_limits("cgroups", root, mounts)


def test_explicit_modes_are_honoured():
    assert isinstance(detect_limits("none"), NoLimits) and detect_limits("none").name == "none"
    assert detect_limits("rlimits").name == "rlimits"


def test_cgroup_limits_write_memory_and_cpu_for_the_task(tmp_path):
    root, mounts = fake_cgroup_root(tmp_path)
    limits = detect_limits("auto", root, mounts)
    assert isinstance(limits, CgroupV2Limits)
    assert (root / "cgroup.subtree_control").read_text() == "+memory +cpu"
    argv = limits.wrap(["sh", "-c", "echo hi"], "t/1", cpus=0.5, mem_mb=64)
    group = root / "mesobus" / "task-t_1"
    assert (group / "memory.max").read_text() == str(64 * 1024 * 1024)
    assert (group / "cpu.max").read_text() == "50000 100000"
    assert argv[:2] == ["sh", "-c"] and str(group / "cgroup.procs") in argv[2] and argv[-3:] == ["sh", "-c", "echo hi"]


def test_oom_kill_in_memory_events_marks_a_memory_limitation(tmp_path):
    root, mounts = fake_cgroup_root(tmp_path)
    limits = detect_limits("auto", root, mounts)
    limits.wrap(["true"], "t1", cpus=1, mem_mb=32)
    events = root / "mesobus" / "task-t1" / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    assert limits.memory_limited("t1", -9, None) is False
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert limits.memory_limited("t1", -9, None) is True


def test_rlimit_caps_the_address_space_of_a_real_task(tmp_path):
    limits = RlimitLimits()
    argv = limits.wrap(["python3", "-c", "bytearray(512 * 1024 * 1024)"], "t1", cpus=1, mem_mb=256)
    stderr = tmp_path / "stderr"
    with open(stderr, "wb") as err:
        code = subprocess.run(argv, stderr=err).returncode
    assert code != 0
    assert limits.memory_limited("t1", code, stderr) is True


def test_rlimit_leaves_a_small_task_alone(tmp_path):
    argv = RlimitLimits().wrap(["sh", "-c", "echo hi"], "t1", cpus=1, mem_mb=32)
    assert subprocess.run(argv, capture_output=True, text=True).stdout == "hi\n"


def test_ordinary_failure_is_not_taken_for_a_memory_limit(tmp_path):
    stderr = tmp_path / "stderr"
    stderr.write_text("file not found\n")
    assert RlimitLimits().memory_limited("t1", 1, stderr) is False
    assert RlimitLimits().memory_limited("t1", 0, stderr) is False


def _v1_or_skip(scope: str):
    from actors.executor.cgroups_v1 import CgroupV1Limits, cgroup_v1_problem

    why = cgroup_v1_problem() if os.geteuid() == 0 else "not root"
    if why:
        pytest.skip(f"real cgroups v1 needed: {why}")
    limits = CgroupV1Limits(scope=scope)
    limits.setup()
    return limits


def test_a_task_is_born_in_its_v1_groups_with_its_limits_and_the_launching_thread_goes_home(tmp_path):
    from actors.executor.cgroups_v1 import CONTROLLERS

    limits = _v1_or_skip(f"unit-{os.getpid()}")
    home = Path("/proc/thread-self/cgroup").read_text()
    assert limits.wrap(["sleep", "5"], "t1", cpus=0.25, mem_mb=48) == ["sleep", "5"]  # no wrapper process
    try:
        with limits.joined("t1"):
            child = subprocess.Popen(["sleep", "5"], start_new_session=True)
        assert Path("/proc/thread-self/cgroup").read_text() == home
        for controller in CONTROLLERS:
            assert str(child.pid) in (limits.group(controller, "t1") / "cgroup.procs").read_text().split()
        memory, cpu = limits.group("memory", "t1"), limits.group("cpu", "t1")
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(48 * 1024 * 1024)
        assert (memory / "memory.swappiness").read_text().strip() == "0"  # inherited from the parent
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "25000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (limits.group("pids", "t1") / "pids.max").read_text().strip() == "4096"
    finally:
        limits.release("t1")  # kills what is in the groups (never this process), removes them
    assert child.wait(5) == -9
    deadline = time.monotonic() + 5
    while any(limits.group(c, "t1").exists() for c in CONTROLLERS) and time.monotonic() < deadline:
        time.sleep(0.05)  # removed by a thread of its own
    assert not any(limits.group(c, "t1").exists() for c in CONTROLLERS)
