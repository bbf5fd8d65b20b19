"""Test doubles for executor tests: an agent mailbox that records, and a process runner
that starts nothing."""

from __future__ import annotations

import os
import pwd

import itertools
from pathlib import Path
from typing import Any, Callable

from actors.executor import ExecutorEnv
from actors.executor.processes import TaskProcess
from actors.runtime import Actor, MemoryTransport
from messages import (
    AgentInfo,
    CommandInfo,
    Envelope,
    ExecutorInfo,
    ExecutorRegistered,
    FrameworkInfo,
    PingAgent,
    PongAgent,
    Resources,
    RunTask,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskInfo,
    TaskState,
    decode,
)

_ids = itertools.count(1)
AGENT = "agent.a1"
# Tasks run as their framework's user, which must exist here: this process' own.
TASK_USER = pwd.getpwuid(os.geteuid()).pw_name
FRAMEWORK = FrameworkInfo(user=TASK_USER, name="fw", framework_id="f1")
AGENT_INFO = AgentInfo(hostname="host1", resources=Resources.parse("cpus:4;mem:4096"), agent_id="a1")


class FakeAgent(Actor):
    """The agent's mailbox: records everything executors send. It answers nothing (as a
    dead agent) unless `answers_pings` is set: then it answers PingAgent with PongAgent,
    as a live agent does."""

    def __init__(self, transport: MemoryTransport) -> None:
        super().__init__(AGENT, transport)
        self.received: list[Envelope] = []
        self.answers_pings = False

    def receive(self, delivery) -> None:
        envelope = decode(delivery.body)
        self.received.append(envelope)
        if self.answers_pings and isinstance(envelope.body, PingAgent):
            self.transport.publish(Envelope(id=f"pong-{next(_ids)}", sender=AGENT, target=envelope.sender,
                                            body=PongAgent("a1"), correlation_id=envelope.id))
        self.transport.ack(delivery)

    def bodies(self, kind: type) -> list[Any]:
        return [e.body for e in self.received if isinstance(e.body, kind)]

    def states(self, task_id: str) -> list[TaskState]:
        return [u.status.state for u in self.bodies(StatusUpdate) if u.status.task_id == task_id]

    def updates(self, task_id: str) -> list[StatusUpdate]:
        return [u for u in self.bodies(StatusUpdate) if u.status.task_id == task_id]


class FakeProcess(TaskProcess):
    def __init__(self, pid: int, on_exit: Callable[[int], None]) -> None:
        self.pid = pid
        self.signals: list[int] = []
        self.on_exit = on_exit

    def signal(self, sig: int) -> None:
        self.signals.append(sig)

    @property
    def running(self) -> bool:
        return True


class FakeRunner:
    """Starts nothing; the test ends a task with `exit(task_id, code)`."""

    def __init__(self) -> None:
        self.started: dict[str, FakeProcess] = {}
        self.argvs: dict[str, list[str]] = {}
        self.envs: dict[str, dict[str, str]] = {}
        self.fail_with: Exception | None = None
        self.held: list[Callable[[], None]] | None = None

    def submit(self, launch: Callable[[], None]) -> None:
        if self.held is not None:
            self.held.append(launch)  # the test runs it with `release_launches`
        else:
            launch()  # on the actor's thread: its TaskStarted is handled when the transport settles

    def hold_launches(self) -> None:
        """From now on, launches wait (as on busy launch threads) until `release_launches`."""
        self.held = []

    def release_launches(self) -> None:
        held, self.held = self.held or [], None
        for launch in held:
            launch()

    def close(self, wait: bool = True) -> None:
        pass

    def start(self, argv, *, cwd: Path, env, stdout: Path, stderr: Path, on_exit, user=None, born_in=None) -> FakeProcess:
        if self.fail_with is not None:
            raise self.fail_with
        task_id = cwd.name
        process = FakeProcess(4000 + len(self.started), on_exit)
        self.started[task_id] = process
        self.argvs[task_id] = list(argv)
        self.envs[task_id] = dict(env)
        return process

    def exit(self, task_id: str, code: int) -> None:
        self.started[task_id].on_exit(code)


def env(sandbox: Path, executor_id: str = "mesobus-command", **kw: Any) -> ExecutorEnv:
    return ExecutorEnv(broker="memory://", agent_id="a1", framework_id="f1", executor_id=executor_id,
                       sandbox=sandbox, **kw)


def say(transport: MemoryTransport, target: str, body: Any, sender: str = AGENT) -> None:
    transport.publish(Envelope(id=f"t-{next(_ids)}", sender=sender, target=target, body=body,
                               sent_at=transport.clock.now()))
    transport.settle()


def registered(executor_id: str = "mesobus-command") -> ExecutorRegistered:
    return ExecutorRegistered(ExecutorInfo(executor_id, CommandInfo("x"), "f1"), FRAMEWORK, AGENT_INFO)


def task(task_id: str, command: str = "echo hi", mem: float = 32, **kw: Any) -> TaskInfo:
    return TaskInfo(task_id, task_id, "a1", Resources.parse(f"cpus:0.5;mem:{mem:g}"), command=CommandInfo(command), **kw)


def run(info: TaskInfo) -> RunTask:
    return RunTask(FRAMEWORK, info)


def ack(update: StatusUpdate) -> StatusUpdateAcknowledgement:
    return StatusUpdateAcknowledgement(update.agent_id, update.framework_id, update.status.task_id, update.uuid)
