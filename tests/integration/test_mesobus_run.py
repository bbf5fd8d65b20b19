"""`mesobus run` against a cluster of processes on the real broker (a private vhost):
it prints the command's output and exits with its exit code, like `mesos-execute`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


@pytest.fixture
def cluster(broker_url: str, tmp_path: Path):
    with private_vhost("mesobus-run") as url:
        c = ProcessCluster(url, tmp_path / "cluster")
        try:
            c.start_master()
            c.start_agent("h1")
            c.wait_ready()
            yield c
        finally:
            c.stop()


def test_mesobus_run_prints_the_output_and_exits_with_the_commands_exit_code(cluster):
    result = subprocess.run(
        [sys.executable, "-m", "actors.cli.main", "run", "--broker", cluster.url, "--", "sh", "-c", "echo hi; exit 3"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert (result.stdout, result.returncode) == ("hi\n", 3), f"{result.stderr}\n{cluster.logs()}"
    assert "TASK_FAILED (exit code 3)" in result.stderr


def test_the_output_is_streamed_while_the_task_runs(cluster):
    proc = subprocess.Popen(
        [sys.executable, "-m", "actors.cli.main", "run", "--broker", cluster.url, "--", "sh", "-c",
         "echo first; sleep 4; echo last"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline() == "first\n"
        assert proc.poll() is None, "the first line came only at the end"
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (out, proc.returncode) == ("last\n", 0), err


def test_a_large_output_comes_whole_and_in_order(cluster):
    expected = "".join(f"{i}\n" for i in range(1, 150_001))  # about 1 MB: far more than the 32 KiB tail
    result = subprocess.run(
        [sys.executable, "-m", "actors.cli.main", "run", "-q", "--broker", cluster.url, "--", "seq", "1", "150000"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == len(expected) and result.stdout == expected
    assert result.stderr == ""
