"""Tasks are contained: their memory limit covers their children, they run as their user
with that user's groups, their sandboxes are private, executors carry no broker password
in their environment, and an unknown user is refused. Real processes (as root, on a host
with cgroups, where the test needs them)."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from actors.agent.launcher import ExecutorSpec, ProcessLauncher
from actors.executor import CommandExecutor, ExecutorEnv
from actors.executor.limits import NoLimits, detect_limits
from actors.runtime import MemoryTransport
from messages import CommandInfo, Resources, StatusReason, TaskInfo, TaskState
from tests.unit.executor.fakes import FakeAgent, env, registered, run, say

ADDRESS = "executor.a1.f1.mesobus-command"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="switching users and cgroups need root")


def wait_until(condition, transport: MemoryTransport, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        transport.settle()
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@pytest.fixture
def real_transport():
    t = MemoryTransport()  # real clock: real processes
    yield t
    t.close()


@pytest.fixture
def box():
    """A sandbox root other users can pass through (pytest's tmp dirs are root's 0700)."""
    path = Path(tempfile.mkdtemp(prefix="mesobus-sec-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def start_executor(transport, sandbox: Path, limits=None):
    agent = FakeAgent.start(transport)
    agent.proxy().address.get()
    (sandbox / "tasks").mkdir(exist_ok=True)
    for where in (sandbox, sandbox / "tasks"):
        where.chmod(0o711)
    ref = CommandExecutor.start(env(sandbox, idle_timeout=300.0), transport, limits=limits or NoLimits())
    ref.proxy().address.get()
    say(transport, ADDRESS, registered())
    return agent, ref


def command_task(task_id: str, command: str, *, user: str = "", mem: float = 32) -> TaskInfo:
    return TaskInfo(task_id, task_id, "a1", Resources.parse(f"cpus:0.5;mem:{mem:g}"),
                    command=CommandInfo(command, user=user))


@pytest.fixture
def two_users():
    """Two throwaway host users, removed afterwards."""
    names = [f"msb{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True,
                       capture_output=True)
    yield names
    for name in names:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@root_only
def test_a_task_whose_children_allocate_more_than_its_mem_is_killed_as_a_whole(real_transport, box):
    try:
        limits = detect_limits("cgroups", scope=f"sec-{uuid.uuid4().hex[:6]}")
    except RuntimeError as err:
        pytest.skip(f"no cgroups here: {err}")
    agent, ref = start_executor(real_transport, box, limits)
    marker = f"mesobus-oom-{uuid.uuid4().hex}"
    child = f"import time; b = b'x' * (20 << 20); time.sleep(120)  # {marker}"
    command = f'for i in 1 2 3 4 5 6 7 8; do python3 -c "{child}" & done; wait'
    try:
        say(real_transport, ADDRESS, run(command_task("t1", command, mem=64)))
        agent_actor = agent._actor_weakref()
        ended = wait_until(lambda: TaskState.TASK_FAILED in agent_actor.states("t1"), real_transport, 60)
        assert ended, agent_actor.states("t1")
        failed = agent_actor.updates("t1")[-1].status
        assert failed.reason == StatusReason.REASON_CONTAINER_LIMITATION_MEMORY, failed.message
        assert "memory limit of 64 MB" in failed.message

        def children_left() -> list[str]:
            left = []
            for proc in Path("/proc").iterdir():
                try:
                    if marker.encode() in (proc / "cmdline").read_bytes():
                        left.append(proc.name)
                except OSError:
                    pass
            return left

        deadline = time.monotonic() + 10
        while children_left() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert children_left() == []  # not one of the eight children runs on
    finally:
        ref.stop()
        agent.stop()


@root_only
def test_tasks_run_as_their_user_with_its_groups_and_cannot_read_each_others_sandbox(real_transport, box, two_users):
    alice, bob = two_users
    agent, ref = start_executor(real_transport, box)
    agent_actor = agent._actor_weakref()
    try:
        say(real_transport, ADDRESS, run(command_task("ta", "echo secret > mine; id -u; id -G", user=alice)))
        assert wait_until(lambda: TaskState.TASK_FINISHED in agent_actor.states("ta"), real_transport)
        sandbox_a = box / "tasks" / "ta"
        entry = pwd.getpwnam(alice)
        info = sandbox_a.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (entry.pw_uid, 0o700)
        uid, groups = (sandbox_a / "stdout").read_text().split("\n")[:2]
        assert int(uid) == entry.pw_uid
        assert set(map(int, groups.split())) == set(os.getgrouplist(alice, entry.pw_gid))
        assert 0 not in set(map(int, groups.split()))  # root's group is not kept

        say(real_transport, ADDRESS, run(command_task("tb", "cat ../ta/mine; ls ../ta", user=bob)))
        assert wait_until(lambda: TaskState.TASK_FAILED in agent_actor.states("tb"), real_transport)
        stderr = (box / "tasks" / "tb" / "stderr").read_text()
        assert "Permission denied" in stderr and "secret" not in (box / "tasks" / "tb" / "stdout").read_text()
    finally:
        ref.stop()
        agent.stop()


def test_a_user_this_host_does_not_know_is_refused(real_transport, box):
    agent, ref = start_executor(real_transport, box)
    agent_actor = agent._actor_weakref()
    try:
        say(real_transport, ADDRESS, run(command_task("t1", "true", user="no-such-user-anywhere")))
        assert wait_until(lambda: agent_actor.states("t1"), real_transport)
        (update,) = agent_actor.updates("t1")
        assert update.status.state == TaskState.TASK_ERROR
        assert update.status.message == "user 'no-such-user-anywhere' does not exist on this host"
    finally:
        ref.stop()
        agent.stop()


@root_only
def test_root_tasks_are_refused_when_the_agent_says_so(real_transport, box):
    agent = FakeAgent.start(real_transport)
    agent.proxy().address.get()
    ref = CommandExecutor.start(env(box, root_tasks=False), real_transport, limits=NoLimits())
    ref.proxy().address.get()
    say(real_transport, ADDRESS, registered())
    try:
        say(real_transport, ADDRESS, run(command_task("t1", "true", user="root")))
        agent_actor = agent._actor_weakref()
        assert wait_until(lambda: agent_actor.states("t1"), real_transport)
        assert agent_actor.updates("t1")[0].status.state == TaskState.TASK_ERROR
        assert "may not run as root" in agent_actor.updates("t1")[0].status.message
    finally:
        ref.stop()
        agent.stop()


@pytest.mark.broker
def test_an_executors_environment_holds_no_broker_password(broker_url, box):
    password = broker_url.split("://", 1)[1].split("@", 1)[0]  # user:password
    sandbox = box / "run1"
    sandbox.mkdir()
    (sandbox / "stdout").touch()
    (sandbox / "stderr").touch()
    spec = ExecutorSpec(
        ExecutorEnv(broker=broker_url, agent_id=f"sec{uuid.uuid4().hex[:6]}", framework_id="f1",
                    executor_id="mesobus-command", sandbox=sandbox, idle_timeout=30.0),
        CommandInfo("unused"), "run1",
    )
    exits = []
    launcher = ProcessLauncher()
    handle = launcher.launch(spec, lambda code, how: exits.append(code))
    try:
        secret = sandbox / ".mesobus-broker"
        deadline = time.monotonic() + 20
        while secret.exists() and time.monotonic() < deadline and not exits:
            time.sleep(0.05)
        assert not secret.exists(), "the executor did not remove its broker file"
        environ = Path(f"/proc/{handle.pid}/environ").read_bytes()
        assert password.encode() not in environ
        assert b"MESOBUS_BROKER=" not in environ and b"MESOBUS_BROKER_FILE=" in environ
        assert exits == []  # it got the URL from the file and runs
    finally:
        os.kill(handle.pid, 9)


@root_only
def test_a_frameworks_own_executor_runs_as_the_frameworks_user(box, two_users):
    alice, _ = two_users
    sandbox = box / "run2"
    sandbox.mkdir()
    for name in ("stdout", "stderr"):
        (sandbox / name).touch()
    spec = ExecutorSpec(
        ExecutorEnv(broker="amqp://u:pw@127.0.0.1:1/", agent_id="a1", framework_id="f1", executor_id="mine",
                    sandbox=sandbox),
        CommandInfo("id -u; id -G; cat $MESOBUS_BROKER_FILE"), "run2", framework_user=alice,
    )
    exits = []
    ProcessLauncher().launch(spec, lambda code, how: exits.append(code))
    deadline = time.monotonic() + 20
    while not exits and time.monotonic() < deadline:
        time.sleep(0.05)
    entry = pwd.getpwnam(alice)
    uid, groups, url = (sandbox / "stdout").read_text().splitlines()[:3]
    assert exits == [0] and int(uid) == entry.pw_uid and 0 not in map(int, groups.split())
    assert url == "amqp://u:pw@127.0.0.1:1/"  # its broker file is its own to read
    assert stat.S_IMODE(sandbox.stat().st_mode) == 0o700 and sandbox.stat().st_uid == entry.pw_uid


def test_an_executor_for_an_unknown_user_is_not_started(box):
    from actors.agent.launcher import LaunchError

    spec = ExecutorSpec(ExecutorEnv(broker="amqp://x/", agent_id="a1", framework_id="f1", executor_id="mine",
                                    sandbox=box), CommandInfo("true"), "r", framework_user="no-such-user-anywhere")
    with pytest.raises(LaunchError, match="user 'no-such-user-anywhere' does not exist on this host"):
        ProcessLauncher().launch(spec, lambda code, how: None)


@root_only
def test_a_task_of_another_user_runs_inside_its_limits(real_transport, box, two_users):
    alice, _ = two_users
    try:
        limits = detect_limits("cgroups", scope=f"sec-{uuid.uuid4().hex[:6]}")
    except RuntimeError as err:
        pytest.skip(f"no cgroups here: {err}")
    agent, ref = start_executor(real_transport, box, limits)
    agent_actor = agent._actor_weakref()
    try:
        say(real_transport, ADDRESS, run(command_task("t1", "id -u; cat /proc/self/cgroup", user=alice, mem=64)))
        assert wait_until(lambda: TaskState.TASK_FINISHED in agent_actor.states("t1"), real_transport), \
            (agent_actor.updates("t1"), (box / "tasks" / "t1" / "stderr").read_text())
        out = (box / "tasks" / "t1" / "stdout").read_text().splitlines()
        assert int(out[0]) == pwd.getpwnam(alice).pw_uid
        assert any("mesobus/" in line and "task-t1" in line for line in out[1:])  # inside its cgroup
    finally:
        ref.stop()
        agent.stop()
