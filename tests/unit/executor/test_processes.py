"""Task processes: argv from a CommandInfo, exit reports, and signals to the whole group."""

from __future__ import annotations

import os
import signal
import threading
import time

from actors.executor.processes import ProcessRunner, command_argv, describe_exit
from messages import CommandInfo


def start(tmp_path, script: str):
    done, codes = threading.Event(), []
    process = ProcessRunner().start(
        ["sh", "-c", script], cwd=tmp_path, env={"PATH": os.environ["PATH"]},
        stdout=tmp_path / "stdout", stderr=tmp_path / "stderr",
        on_exit=lambda code: (codes.append(code), done.set()),
    )
    return process, done, codes


def test_argv_of_shell_and_plain_commands():
    assert command_argv(CommandInfo("ls -l")) == ["sh", "-c", "ls -l"]
    assert command_argv(CommandInfo(shell=False, arguments=("ls", "-l"))) == ["ls", "-l"]
    assert command_argv(CommandInfo("/bin/ls", shell=False, arguments=("ls", "-l"))) == ["/bin/ls", "-l"]


def test_exit_status_is_reported_and_output_lands_in_the_files(tmp_path):
    _, done, codes = start(tmp_path, "echo out; echo err >&2; exit 4")
    assert done.wait(5) and codes == [4]
    assert (tmp_path / "stdout").read_text() == "out\n" and (tmp_path / "stderr").read_text() == "err\n"


def test_signal_reaches_the_children_of_the_task_too(tmp_path):
    process, done, codes = start(tmp_path, "sleep 30 & echo $! > child; wait")
    deadline = time.monotonic() + 5
    while not (tmp_path / "child").exists() or not (tmp_path / "child").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child = int((tmp_path / "child").read_text())
    process.signal(signal.SIGTERM)
    assert done.wait(5) and codes == [-signal.SIGTERM]
    time.sleep(0.05)
    assert not _alive(child)


def test_leftover_background_processes_are_killed_when_the_task_ends(tmp_path):
    _, done, _ = start(tmp_path, "sleep 30 & echo $! > child")
    assert done.wait(5)
    time.sleep(0.05)
    assert not _alive(int((tmp_path / "child").read_text()))


def test_exit_descriptions():
    assert describe_exit(0) == "exited with status 0"
    assert describe_exit(-signal.SIGKILL) == "killed by signal SIGKILL"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
