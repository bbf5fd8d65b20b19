"""Replaying an agent from the journal (`mesobus replay --actor agent.<id>`).

When it starts, the agent records (`journal_config`) everything its start-up depends on
besides its messages: its settings, the checkpoint it recovered, which checkpointed
executors its launcher found still running, and the command executor's command line.
`rebuild` makes an agent from that record whose effects stay inside the process: a
launcher that starts nothing (`ReplayLauncher`), a checkpoint kept in memory
(`MemoryCheckpoint`) and sandboxes that are named but never created (`PlannedSandboxes`).
Everything else an effect tells the agent (an executor exited, a launch failed) reaches
it as a message in its mailbox, so replay gets it from the journal like any input.

>>> from actors.agent.launcher import ExecutorSpec
>>> from actors.executor.environment import ExecutorEnv
>>> launcher = ReplayLauncher(alive=[("f1", "e1", "r1")])
>>> spec = ExecutorSpec(ExecutorEnv("memory://", "a1", "f1", "e1", Path("/w/s")), CommandInfo("x"), "r1")
>>> launcher.recover(spec, 42, lambda status, message: None)
Handle(pid=42, process=None)
>>> journal_plain({"data": b"\\x00", "ids": ("a", "b")})
{'data': {'$bytes': 'AA=='}, 'ids': ['a', 'b']}
>>> from_journal_plain(journal_plain({"data": b"\\x00"}))
{'data': b'\\x00'}
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from actors.agent.checkpoint import (
    Checkpoint,
    Recovered,
    entry_name,
    executor_from_plain,
    executor_to_plain,
    recovered_from_plain,
    recovered_to_plain,
    task_from_plain,
    task_to_plain,
)
from actors.agent.config import AgentConfig
from actors.agent.launcher import ExecutorSpec, Handle, Launcher, ReportExit
from actors.agent.sandbox import Sandboxes, task_sandbox
from actors.agent.state import ExecutorRecord, TaskRecord
from actors.agent.status_updates import Stream
from actors.runtime import ActorContext, Transport
from messages import CommandInfo, FrameworkInfo
from messages.schema import from_plain, to_plain

if TYPE_CHECKING:
    from actors.agent.actor import Agent

ExecutorRun = tuple[str, str, str]  # (framework_id, executor_id, run_id)


# --- what the agent records, and the agent rebuilt from it ----------------------------


def journal_config(agent: "Agent") -> dict[str, Any]:
    """The agent's ActorStarted config: plain data only (bytes as base64, lists).

    The runtime asks for it once, in `on_start`, after the launcher was asked which
    executors still run and before recovery changes the recovered records."""
    found = agent.recovered_at_start
    has_checkpoint = bool(found.agent_id or found.registered or found.frameworks or found.executors or found.tasks)
    return journal_plain(
        {
            "agent_id": agent.agent_id,
            "config": agent.config.to_plain(),
            "recovered": recovered_to_plain(found) if has_checkpoint else None,
            "alive_executors": [list(run) for run in agent.alive_at_start],
            "simulates_tasks": bool(agent.launcher.simulates_tasks),
            "command_executor": to_plain(agent.command_executor),
        }
    )


def rebuild(cls: type["Agent"], config: dict[str, Any], transport: Transport, context: ActorContext) -> "Agent":
    """An agent of class `cls` as it started in the recorded run, with no outside effects."""
    config = from_journal_plain(config)
    settings = AgentConfig.from_plain(config["config"])
    plain = config.get("recovered")
    launcher = ReplayLauncher(
        simulates_tasks=bool(config.get("simulates_tasks")),
        alive=[tuple(run) for run in config.get("alive_executors", ())],
    )
    return cls(
        settings,
        transport,
        agent_id=config["agent_id"],
        launcher=launcher,
        checkpoint=MemoryCheckpoint(plain),
        recovered=recovered_from_plain(plain) if plain else Recovered(),
        sandboxes=PlannedSandboxes(settings.work_dir),
        command_executor=from_plain(CommandInfo, config["command_executor"]),
        context=context,
    )


def journal_plain(value: Any) -> Any:
    """`value` with tuples as lists and bytes as {"$bytes": base64}: plain data."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: journal_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [journal_plain(v) for v in value]
    return value


def from_journal_plain(value: Any) -> Any:
    """The inverse of `journal_plain`."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"} and isinstance(value["$bytes"], str):
            return base64.b64decode(value["$bytes"])
        return {k: from_journal_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_journal_plain(v) for v in value]
    return value


# --- side-effect-free effects -----------------------------------------------------------


class ReplayLauncher(Launcher):
    """Starts and kills nothing; remembers what it was asked. After a restart it finds
    running exactly the executor runs that the recorded run's launcher found running."""

    def __init__(self, *, simulates_tasks: bool = False, alive: Iterable[ExecutorRun] = ()) -> None:
        self.simulates_tasks = simulates_tasks
        self.alive = set(alive)  # membership only, never iterated
        self.launched: list[ExecutorSpec] = []
        self.recovered: list[ExecutorSpec] = []
        self.killed: list[Handle] = []

    def launch(self, spec: ExecutorSpec, report_exit: ReportExit) -> Handle:
        self.launched.append(spec)
        return Handle()

    def recover(self, spec: ExecutorSpec, pid: int, report_exit: ReportExit) -> Handle | None:
        if (spec.env.framework_id, spec.env.executor_id, spec.run_id) not in self.alive:
            return None
        self.recovered.append(spec)
        return Handle(pid=pid)

    def kill(self, handle: Handle) -> None:
        self.killed.append(handle)


class PlannedSandboxes(Sandboxes):
    """Names sandboxes as `Sandboxes` does, and creates none."""

    def create_executor(self, framework_id: str, executor_id: str, run_id: str) -> Path:
        return self.executor_dir(framework_id, executor_id, run_id)

    def create_task(self, executor_sandbox: Path, task_id: str) -> Path:
        return task_sandbox(executor_sandbox, task_id)


class MemoryCheckpoint(Checkpoint):
    """The checkpoint store in memory, in the files' own plain forms; `load` returns
    what `Checkpoint.load` would find on disk, in the same order. Seed it with
    `recovered_to_plain(...)` data (what the agent recovered when it started)."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        super().__init__("/nonexistent")
        self.agent: dict[str, Any] | None = None
        self.frameworks: dict[str, dict[str, Any]] = {}
        self.executors: dict[tuple[str, str], dict[str, Any]] = {}
        self.tasks: dict[tuple[str, str], dict[str, Any]] = {}
        if seed:
            found = recovered_from_plain(seed)
            self.save_agent(found.agent_id, registered=found.registered)
            for info in found.frameworks.values():
                self.save_framework(info)
            for executor in found.executors:
                self.save_executor(executor)
            for task, stream in zip(found.tasks, found.streams):
                self.save_task(task, stream)

    def save_agent(self, agent_id: str, *, registered: bool) -> None:
        self.agent = {"agent_id": agent_id, "registered": registered}

    def save_framework(self, info: FrameworkInfo) -> None:
        self.frameworks[info.framework_id] = to_plain(info)

    def remove_framework(self, framework_id: str) -> None:
        self.frameworks.pop(framework_id, None)
        for store in (self.executors, self.tasks):
            for key in [k for k in store if k[0] == framework_id]:
                del store[key]

    def save_executor(self, record: ExecutorRecord) -> None:
        self.executors[record.key] = executor_to_plain(record)

    def remove_executor(self, framework_id: str, executor_id: str) -> None:
        self.executors.pop((framework_id, executor_id), None)

    def save_task(self, task: TaskRecord, stream: Stream | None) -> None:
        self.tasks[task.key] = task_to_plain(task, stream)

    def remove_task(self, framework_id: str, task_id: str) -> None:
        self.tasks.pop((framework_id, task_id), None)

    def wipe(self) -> None:
        self.agent = None
        self.frameworks.clear()
        self.executors.clear()
        self.tasks.clear()

    def load(self) -> Recovered:
        found = Recovered()
        if self.agent is not None:
            found.agent_id, found.registered = self.agent["agent_id"], self.agent["registered"]
        fids = {k[0] for k in self.executors} | {k[0] for k in self.tasks} | set(self.frameworks)
        for fid in sorted(fids, key=entry_name):  # as the directories sort on disk
            if fid in self.frameworks:
                info = from_plain(FrameworkInfo, self.frameworks[fid])
                found.frameworks[info.framework_id] = info
            for key in sorted((k for k in self.executors if k[0] == fid), key=lambda k: f"{entry_name(k[1])}.msgpack"):
                found.executors.append(executor_from_plain("memory", self.executors[key], fid, found.agent_id))
            for key in sorted((k for k in self.tasks if k[0] == fid), key=lambda k: f"{entry_name(k[1])}.msgpack"):
                task, stream = task_from_plain("memory", self.tasks[key])
                found.tasks.append(task)
                found.streams.append(stream)
        return found
