"""SIGTERM acts like Ctrl-C for the commands that start a cluster of their own: what they
started is stopped (no task left running, no temporary dir left behind), one line says so,
and the exit code is 128 + the signal (143, or 130 for SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.cluster_framework import ROOT


def start(tmp_path: Path, *argv: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", TMPDIR=str(tmp_path))
    env.pop("MESOBUS_BROKER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "actors.cli.main", *argv], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_line(path_or_proc, needle: str, timeout: float = 60.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = path_or_proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} in {''.join(lines)}")


def processes_with(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_run_kills_the_task_and_removes_the_temporary_dirs(tmp_path, sig, code) -> None:
    marker = f"{uuid.uuid4().int % 10**6 + 100}"  # a unique `sleep` argument to look for
    proc = start(tmp_path, "run", "--", "sleep", marker)
    try:
        wait_for_line(proc, "TASK_RUNNING")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert f"mesobus run: {sig.name}: killing the task" in err and "Traceback" not in err
    assert [p for p in processes_with(f"sleep {marker}") if "actors.cli.main" not in p] == []
    assert list(tmp_path.glob("mesobus-*")) == []


def test_sigterm_during_the_demo_stops_in_order_without_a_traceback(tmp_path) -> None:
    proc = start(tmp_path, "demo", "--tasks", "400", "--agents", "3")
    try:
        wait_for_line(proc, " running=")  # tasks in flight on the agents
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "ActorDeadError" not in err, err
    assert "mesobus demo: SIGTERM: stopping the framework, then the cluster" in err
    assert not list(tmp_path.glob("mesobus-local-*")) and not list(tmp_path.glob("mesobus-demo-??????????"))
