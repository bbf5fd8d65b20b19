"""The agent on the real broker, with executors as OS processes (`python -m actors.executor`)."""

from __future__ import annotations

import os

import pwd

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from actors.agent import AgentConfig, start_agent
from actors.connect import connect_transport
from messages import ExitedExecutor, FrameworkInfo, KillTask, RunTask, StatusUpdate, TaskState
from rabbitmq.topology import queue_name
from tests.support.amqp import delete_queues, unique_prefix
from tests.unit.agent.fakes import FakeMaster, command_task

pytestmark = pytest.mark.broker
S = TaskState


def wait(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class Setup:
    """A fake master and a framework on their own addresses; agents started with `agent()`."""

    url: str
    work_dir: Path
    transport: Any
    prefix: str = field(default_factory=lambda: unique_prefix("agent"))
    refs: list = field(default_factory=list)
    addresses: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.framework = FrameworkInfo(user=pwd.getpwuid(os.geteuid()).pw_name, name="fw", framework_id=f"{self.prefix}-f1")
        self.master_ref = FakeMaster.start(self.transport, auto_ack=True, address=f"{self.prefix}.master")
        self.master = self.master_ref._actor_weakref()
        self.addresses.append(f"{self.prefix}.master")

    def agent(self, **settings: Any):
        config = AgentConfig.from_flags(
            resources="cpus:2;mem:1024;disk:1000;ports:[31000-31010]", work_dir=self.work_dir,
            master=f"{self.prefix}.master", broker_url=self.url, executor_mode="process", limits="none",
            **settings,
        )
        ref = start_agent(self.transport, config)
        self.refs.append(ref)
        self.agent_id = ref.proxy().agent_id.get()
        self.addresses += [f"agent.{self.agent_id}", f"executor.{self.agent_id}.{self.framework.framework_id}.mesobus-command"]
        return ref

    def tell_agent(self, body: Any) -> None:
        self.master_ref.proxy().send(f"agent.{self.agent_id}", body)

    def states(self, task_id: str) -> list[TaskState]:
        return [u.status.state for u in self.master.bodies(StatusUpdate) if u.status.task_id == task_id]


@pytest.fixture
def setup(broker_url, tmp_path):
    transport = connect_transport(broker_url)
    s = Setup(broker_url, tmp_path, transport)
    yield s
    live = [ref for ref in s.refs if ref.is_alive()]
    if live:
        live[-1].proxy().leave().get()  # shuts its executors down for good
    for ref in s.refs + [s.master_ref]:
        if ref.is_alive():
            ref.stop()
    transport.close()
    delete_queues(broker_url, *(queue_name(a) for a in dict.fromkeys(s.addresses)))


def test_command_tasks_run_in_an_executor_process_that_exits_when_idle(setup, tmp_path):
    agent = setup.agent(command_executor_idle=1.0)
    setup.tell_agent(RunTask(setup.framework, command_task("t1", "echo hi from a process")))
    setup.tell_agent(RunTask(setup.framework, command_task("t2", "sleep 30")))

    assert wait(lambda: S.TASK_FINISHED in setup.states("t1")), setup.states("t1")
    assert setup.states("t1") == [S.TASK_STARTING, S.TASK_RUNNING, S.TASK_FINISHED]
    (executor,) = agent.proxy().state().get()["executors"]
    assert executor["pid"] > 0
    (task,) = [t for t in agent.proxy().state().get()["completed_tasks"] if t["id"] == "t1"]
    assert (tmp_path / task["sandbox"] / "stdout").read_text() == "hi from a process\n"

    assert wait(lambda: S.TASK_RUNNING in setup.states("t2")), setup.states("t2")
    setup.tell_agent(KillTask(setup.framework.framework_id, "t2"))
    assert wait(lambda: S.TASK_KILLED in setup.states("t2")), setup.states("t2")

    # Nothing left to do: the agent shuts the executor down and the process exits.
    assert wait(lambda: setup.master.bodies(ExitedExecutor)), "the executor process did not exit"
    assert setup.master.bodies(ExitedExecutor)[0].status == 0


def test_executor_process_outlives_an_agent_restart_and_reconnects(setup):
    agent = setup.agent()
    setup.tell_agent(RunTask(setup.framework, command_task("t1", "sleep 30")))
    assert wait(lambda: S.TASK_RUNNING in setup.states("t1")), setup.states("t1")
    (before,) = agent.proxy().state().get()["executors"]
    agent.stop()  # a crash or an upgrade: executors are left running

    agent = setup.agent()
    assert wait(lambda: agent.proxy().state().get()["registered"]), "did not re-register"
    (after,) = agent.proxy().state().get()["executors"]
    assert (after["pid"], after["run_id"], after["phase"]) == (before["pid"], before["run_id"], "REGISTERED")
    assert [t["state"] for t in agent.proxy().state().get()["tasks"]] == ["TASK_RUNNING"]

    setup.tell_agent(KillTask(setup.framework.framework_id, "t1"))
    assert wait(lambda: S.TASK_KILLED in setup.states("t1")), setup.states("t1")
    assert S.TASK_FAILED not in setup.states("t1")


def test_an_executor_process_fetches_a_tasks_uris_with_the_agents_fetcher_settings(setup, tmp_path):
    from messages import CommandInfo, CommandURI, Resources, TaskInfo

    from tests.support.file_server import FileServer

    files = tmp_path / "files"
    files.mkdir()
    (files / "big.bin").write_bytes(b"x" * 4096)
    (files / "small.txt").write_text("fetched\n")
    agent = setup.agent(fetcher_max_size=1024, fetcher_cache_size=0)
    with FileServer(files) as server:
        def task(task_id: str, name: str) -> TaskInfo:
            return TaskInfo(task_id, task_id, "", Resources.parse("cpus:0.1;mem:32"),
                            command=CommandInfo(f"cat {name}", uris=(CommandURI(server.url(name)),)))

        setup.tell_agent(RunTask(setup.framework, task("t1", "small.txt")))
        setup.tell_agent(RunTask(setup.framework, task("t2", "big.bin")))
        assert wait(lambda: S.TASK_FINISHED in setup.states("t1")), setup.states("t1")
        assert wait(lambda: S.TASK_FAILED in setup.states("t2")), setup.states("t2")
    (done,) = [t for t in agent.proxy().state().get()["completed_tasks"] if t["id"] == "t1"]
    assert (tmp_path / done["sandbox"] / "stdout").read_text() == "fetched\n"
    failed = [u.status for u in setup.master.bodies(StatusUpdate) if u.status.task_id == "t2"][-1]
    assert "more than the fetcher's limit of 1024" in failed.message  # the agent's --fetcher-max-size
