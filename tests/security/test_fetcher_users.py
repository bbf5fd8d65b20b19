"""The fetcher and task users (as root, with throwaway host users): a task gets only the
local files its user may read, and what is fetched for it is its user's."""

from __future__ import annotations

import io
import os
import pwd
import subprocess
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from actors.executor import CommandExecutor
from actors.executor.limits import NoLimits
from actors.runtime import MemoryTransport
from messages import CommandInfo, CommandURI, Resources, StatusReason, TaskInfo, TaskState
from tests.unit.executor.fakes import FakeAgent, env, registered, run, say

ADDRESS = "executor.a1.f1.mesobus-command"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture
def alice():
    name = f"msb{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
    yield name
    subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture
def box():
    """Sandboxes and files other users can pass through (pytest's tmp dirs are root's 0700)."""
    path = Path(tempfile.mkdtemp(prefix="mesobus-fetch-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def executor(box):
    transport = MemoryTransport()  # real clock: real processes
    agent = FakeAgent.start(transport)
    agent.proxy().address.get()
    sandbox = box / "executor"
    (sandbox / "tasks").mkdir(parents=True)
    for where in (sandbox, sandbox / "tasks"):
        where.chmod(0o711)
    ref = CommandExecutor.start(env(sandbox, idle_timeout=300.0), transport, limits=NoLimits())
    ref.proxy().address.get()
    say(transport, ADDRESS, registered())
    yield transport, agent._actor_weakref(), sandbox
    ref.stop()
    agent.stop()
    transport.close()


def ended(transport, agent, task_id: str, timeout: float = 30.0) -> list[TaskState]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        transport.settle()
        states = agent.states(task_id)
        if states and states[-1].is_terminal:
            return states
        time.sleep(0.05)
    return agent.states(task_id)


def fetching(task_id: str, user: str, *uris: CommandURI) -> TaskInfo:
    return TaskInfo(task_id, task_id, "a1", Resources.parse("cpus:0.1;mem:32"),
                    command=CommandInfo("ls -ln", user=user, uris=uris))


def test_a_file_the_tasks_user_cannot_read_is_not_fetched(executor, box, alice):
    transport, agent, _ = executor
    secret = box / "secret.txt"
    secret.write_text("root only")
    secret.chmod(0o600)
    say(transport, ADDRESS, run(fetching("t1", alice, CommandURI(str(secret)))))
    assert ended(transport, agent, "t1")[-1] == TaskState.TASK_FAILED
    last = agent.updates("t1")[-1].status
    assert last.reason == StatusReason.REASON_CONTAINER_LAUNCH_FAILED
    assert last.message == f"fetcher: cannot fetch {str(secret)!r}: cannot read it as {alice}: {secret}: Permission denied"


def test_fetched_and_extracted_files_belong_to_the_tasks_user(executor, box, alice):
    transport, agent, sandbox = executor
    (box / "tool.sh").write_text("echo hi")
    (box / "tool.sh").chmod(0o644)
    with tarfile.open(box / "site.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("site/index.html")
        info.size, info.uid = 2, 0
        tar.addfile(info, io.BytesIO(b"hi"))
    (box / "site.tgz").chmod(0o644)
    say(transport, ADDRESS, run(fetching("t1", alice, CommandURI(str(box / "tool.sh"), executable=True),
                                         CommandURI(f"file://{box}/site.tgz"))))
    assert ended(transport, agent, "t1")[-1] == TaskState.TASK_FINISHED, agent.updates("t1")[-1].status.message
    task_box = sandbox / "tasks" / "t1"
    uid = pwd.getpwnam(alice).pw_uid
    for path in ("tool.sh", "site.tgz", "site", "site/index.html"):
        assert (task_box / path).stat().st_uid == uid, path
    assert not any(p.name.startswith(".fetch-") for p in (sandbox / "tasks").iterdir())  # staging removed
