"""Test doubles for agent tests: a fake master, a launcher that starts nothing, and helpers
to speak as the master or as an executor."""

from __future__ import annotations

import os
import pwd

import itertools
import threading
import time
from pathlib import Path
from typing import Any, Callable

from actors.agent import AgentConfig, start_agent
from actors.agent.launcher import ExecutorSpec, Handle, Launcher, ReportExit
from actors.runtime import Actor, MemoryTransport, on
from messages import (
    AgentRegistered,
    AgentReregistered,
    CommandInfo,
    Envelope,
    ExecutorInfo,
    ExecutorToFramework,
    ExitedExecutor,
    FrameworkInfo,
    PongAgent,
    RegisterAgent,
    ReregisterAgent,
    Resources,
    RunTask,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskInfo,
    TaskState,
    UnregisterAgent,
)

_ids = itertools.count(1)

# Tasks run as their framework's user, which must exist here: this process' own.
TASK_USER = pwd.getpwuid(os.geteuid()).pw_name
FRAMEWORK = FrameworkInfo(user=TASK_USER, name="test framework", framework_id="f1")
CMD = "executor.a1.f1.mesobus-command"  # the command executor of framework f1 on agent a1


class FakeMaster(Actor):
    """Records what agents send; answers registrations when `answer` is true, and
    acknowledges status updates when `auto_ack` is true."""

    def __init__(self, transport: MemoryTransport, *, answer: bool = True, auto_ack: bool = False,
                 ping_interval: float = 15.0, max_missed_pings: int = 5, address: str = "master") -> None:
        super().__init__(address, transport)
        self.answer = answer
        self.auto_ack = auto_ack
        self.ping_interval = ping_interval
        self.max_missed_pings = max_missed_pings
        self.received: list[Envelope] = []

    def bodies(self, kind: type) -> list[Any]:
        return [e.body for e in self.received if isinstance(e.body, kind)]

    def states(self, task_id: str) -> list[TaskState]:
        return [u.status.state for u in self.bodies(StatusUpdate) if u.status.task_id == task_id]

    def updates(self, task_id: str) -> list[StatusUpdate]:
        return [u for u in self.bodies(StatusUpdate) if u.status.task_id == task_id]

    @on(RegisterAgent)
    def _register(self, msg: RegisterAgent) -> None:
        self.received.append(self.envelope)
        if self.answer:
            self.reply(AgentRegistered(msg.agent.agent_id, self.ping_interval, self.max_missed_pings))

    @on(ReregisterAgent)
    def _reregister(self, msg: ReregisterAgent) -> None:
        self.received.append(self.envelope)
        if self.answer:
            self.reply(AgentReregistered(msg.agent.agent_id, self.ping_interval, self.max_missed_pings))

    @on(StatusUpdate)
    def _update(self, msg: StatusUpdate) -> None:
        self.received.append(self.envelope)
        if self.auto_ack and msg.uuid:
            self.reply(StatusUpdateAcknowledgement(msg.agent_id, msg.framework_id, msg.status.task_id, msg.uuid))

    @on(PongAgent, ExitedExecutor, ExecutorToFramework, UnregisterAgent)
    def _record(self, msg: Any) -> None:
        self.received.append(self.envelope)


class Recorder(Actor):
    """Stands in for an executor's mailbox: records what the agent sends it."""

    def __init__(self, address: str, transport: MemoryTransport) -> None:
        super().__init__(address, transport)
        self.received: list[Envelope] = []

    def bodies(self, kind: type) -> list[Any]:
        return [e.body for e in self.received if isinstance(e.body, kind)]

    def receive(self, delivery) -> None:  # record every message type, handle none
        from messages import decode

        self.received.append(decode(delivery.body))
        self.transport.ack(delivery)


class FakeLauncher(Launcher):
    """Starts nothing; remembers what it was asked to launch and lets the test end it."""

    def __init__(self, alive_on_recover: bool = False) -> None:
        self.launched: list[ExecutorSpec] = []
        self.killed: list[Handle] = []
        self.exits: dict[str, ReportExit] = {}
        self.alive_on_recover = alive_on_recover
        self.fail_with: str = ""

    def launch(self, spec: ExecutorSpec, report_exit: ReportExit) -> Handle:
        from actors.agent.launcher import LaunchError

        if self.fail_with:
            raise LaunchError(self.fail_with)
        self.launched.append(spec)
        self.exits[spec.run_id] = report_exit
        return Handle(pid=1000 + len(self.launched))

    def recover(self, spec: ExecutorSpec, pid: int, report_exit: ReportExit) -> Handle | None:
        if not self.alive_on_recover:
            return None
        self.exits[spec.run_id] = report_exit
        return Handle(pid=pid)

    def kill(self, handle: Handle) -> None:
        self.killed.append(handle)

    def exit(self, spec: ExecutorSpec, status: int = 0, message: str = "exited") -> None:
        self.exits[spec.run_id](status, message)


class PausingLauncher(FakeLauncher):
    """After `pause()`, blocks the agent in its next `launch` until `go.set()`: messages
    sent meanwhile pile up and are handled (and committed) together. `entered` is set
    once the agent is in `launch`."""

    def __init__(self, *, simulates_tasks: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.simulates_tasks = simulates_tasks
        self.entered, self.go = threading.Event(), threading.Event()
        self.go.set()

    def pause(self) -> None:
        self.go.clear()

    def launch(self, spec, report_exit):
        self.entered.set()
        assert self.go.wait(5)
        return super().launch(spec, report_exit)


def say(transport: MemoryTransport, target: str, body: Any, sender: str = "master", epoch: int = 0) -> None:
    """Deliver `body` to `target` as if `sender` sent it, and wait until it is handled."""
    transport.publish(Envelope(id=f"test-{next(_ids)}", sender=sender, target=target, body=body,
                               sent_at=transport.clock.now(), epoch=epoch))
    transport.settle()


def wait_for(condition: Callable[[], Any], transport: MemoryTransport, timeout: float = 2.0) -> Any:
    """For tests with real processes: poll (real time) until `condition()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        transport.settle()
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.01)


def config(work_dir: Path, **settings: Any) -> AgentConfig:
    return AgentConfig.from_flags(
        resources="cpus:4;mem:4096;disk:10000;ports:[31000-32000]",
        attributes="rack:r1",
        work_dir=work_dir,
        hostname="host1",
        **{"agent_id": "a1", **settings},
    )


def command_task(task_id: str, command: str = "echo hi", agent_id: str = "", **kw: Any) -> TaskInfo:
    return TaskInfo(task_id, f"task {task_id}", agent_id, Resources.parse("cpus:0.1;mem:32"),
                    command=CommandInfo(command), **kw)


def executor_task(task_id: str, executor_id: str = "e1", command: str = "run-my-executor") -> TaskInfo:
    return TaskInfo(task_id, f"task {task_id}", "", Resources.parse("cpus:0.1;mem:32"),
                    executor=ExecutorInfo(executor_id, CommandInfo(command)))


def run(task: TaskInfo, framework: FrameworkInfo = FRAMEWORK) -> RunTask:
    return RunTask(framework, task)


def ack(update: StatusUpdate) -> StatusUpdateAcknowledgement:
    return StatusUpdateAcknowledgement(update.agent_id, update.framework_id, update.status.task_id, update.uuid)


class Cluster:
    """A fake master and an agent on one memory transport; `restart()` starts a new
    agent on the same work dir (and, by default, the same launcher)."""

    def __init__(self, transport: MemoryTransport, work_dir: Path, launcher: Launcher | None = None,
                 master: dict[str, Any] | None = None, **settings: Any) -> None:
        self.transport = transport
        self.work_dir = work_dir
        self.settings = settings
        self.launcher = launcher if launcher is not None else FakeLauncher()
        self.master_ref = FakeMaster.start(transport, **(master or {}))
        self.master: FakeMaster = self.master_ref._actor_weakref()  # the actor, to read what it got
        self.master_ref.proxy().address.get()  # subscribed
        self.refs: list[Any] = []
        self.start()

    def start(self) -> None:
        ref = start_agent(self.transport, config(self.work_dir, **self.settings), launcher=self.launcher)
        self.refs.append(ref)
        self.agent = ref._actor_weakref()
        ref.proxy().agent_id.get()  # answered only after on_start ran (subscribed, registering)
        self.transport.settle()

    @property
    def address(self) -> str:
        return self.agent.address

    def restart(self) -> None:
        self.refs[-1].stop()
        self.transport.settle()
        self.start()

    def say(self, body: Any, sender: str = "master", epoch: int = 0) -> None:
        say(self.transport, self.address, body, sender, epoch)

    def state(self) -> dict:
        return self.refs[-1].proxy().state().get()

    def stop(self) -> None:
        for ref in self.refs + [self.master_ref]:
            if ref.is_alive():
                ref.stop()
