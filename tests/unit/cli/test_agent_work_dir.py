"""One agent per work dir: a second `mesobus agent` on a held work dir exits 1 with one line
naming the dir and the holder's pid; a work dir that cannot be one is a one-line error;
a crashed holder does not keep the dir locked (here: a memory transport, a signal that
comes at once)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import actors.connect
from actors.agent.workdir_lock import WorkDirLock
from actors.cli.main import main
from actors.runtime import MemoryTransport


@pytest.fixture(autouse=True)
def memory_broker(monkeypatch) -> None:
    monkeypatch.delenv("MESOBUS_BROKER", raising=False)
    monkeypatch.setattr(actors.connect, "connect_transport", lambda url: MemoryTransport())
    monkeypatch.setattr("actors.cli.agent.wait_for_signal", lambda stop=None, tick=None: "SIGTERM")


def agent(work_dir) -> int:
    return main(["agent", "--broker", "amqp://h", "--work-dir", str(work_dir), "--resources", "cpus:1;mem:64",
                 "--executor-mode", "noop"])


def test_a_second_agent_on_a_held_work_dir_exits_1_naming_the_holder(tmp_path, capsys) -> None:
    with WorkDirLock(tmp_path):
        code = agent(tmp_path)
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"mesobus agent: error: the work dir {tmp_path} is in use by another agent (pid {os.getpid()})\n"


def test_the_agent_holds_the_lock_while_it_runs_and_releases_it_after(tmp_path, monkeypatch, capsys) -> None:
    seen: list[str] = []

    def while_running(stop=None, tick=None) -> str:
        try:
            WorkDirLock(tmp_path).acquire()
        except RuntimeError as busy:
            seen.append(str(busy))
        return "SIGTERM"

    monkeypatch.setattr("actors.cli.agent.wait_for_signal", while_running)
    assert agent(tmp_path) == 143
    assert seen and "in use by another agent" in seen[0]
    WorkDirLock(tmp_path).acquire().release()  # free again


def test_a_killed_holder_leaves_the_work_dir_free(tmp_path, capsys) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from actors.agent.workdir_lock import WorkDirLock;"
         f" WorkDirLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=os.getcwd(), env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    try:
        assert holder.stdout.readline() == "held\n"
        assert agent(tmp_path) == 1
        assert f"(pid {holder.pid})" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait(10)
    assert agent(tmp_path) == 143


def test_a_work_dir_that_is_a_file_is_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    assert agent(path) == 2
    assert capsys.readouterr().err == f"mesobus agent: error: --work-dir {path}: not a directory\n"


def test_a_work_dir_under_a_file_is_one_line(tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    assert agent(tmp_path / "file" / "sub") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mesobus agent: error: --work-dir {tmp_path}/file/sub: ") and err.count("\n") == 1
