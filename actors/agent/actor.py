"""The `Agent` actor: one per host; runs the tasks the master sends it through executors.

>>> from actors.agent import AgentConfig, start_agent
>>> # ref = start_agent(transport, AgentConfig.from_flags(resources="cpus:4;mem:8192",
>>> #                                                      work_dir="/var/lib/mesobus"))

This module holds the agent's life cycle and its link to the master (registration with
backoff, pings, re-registration, shutdown, recovery after a restart); what the master asks
about tasks is in `task_handlers.py`, executor runs in `executor_handlers.py`, the status
update path in `update_handlers.py`.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import uuid as uuidlib
from typing import Any, ClassVar

from actors.agent.checkpoint import Checkpoint, NullCheckpoint, Recovered
from actors.agent.commit import GroupCommit
from actors.agent.config import AgentConfig, ConfigError
from actors.agent.executor_handlers import ExecutorHandlers
from actors.agent.files import SandboxFiles
from actors.agent.launcher import ExecutorSpec, InProcessLauncher, Launcher, NoopLauncher, ProcessLauncher
from actors.agent.replay import ExecutorRun, journal_config, rebuild
from actors.agent.sandbox import Sandboxes
from actors.agent.state import AgentBook, ExecutorPhase
from actors.agent.status_updates import StatusUpdateManager, StreamKey
from actors.agent.task_handlers import TaskHandlers
from actors.agent.update_handlers import UpdateHandlers
from actors.connect import poster
from actors.executor.environment import ExecutorEnv
from actors.runtime import Actor, ActorContext, Transport, on
from actors.security import SenderChecks, own_principal
from actors.security.senders import from_leader_or_self
from messages import (
    AgentInfo,
    AgentPingTimeout,
    AgentRegistered,
    AgentReregistered,
    CommandInfo,
    Envelope,
    ExecutorReconnectTimeout,
    PingAgent,
    PongAgent,
    ReconnectExecutor,
    RegisterAgent,
    ReregisterAgent,
    RetryAgentRegistration,
    ShutdownAgent,
    ShutdownExecutor,
    TaskState,
    UnregisterAgent,
)
from messages.addresses import agent_address, agents_group
from messages.ids import address_id_problem, principal_id
from messages.operator import ListSandbox, ReadSandboxFile

log = logging.getLogger(__name__)

VERSION = "0.1.0"


class Agent(SenderChecks, TaskHandlers, ExecutorHandlers, UpdateHandlers, GroupCommit, Actor):
    """Start it with `start_agent(transport, config)`, which recovers its checkpoint.

    Replayable from the journal (`replay.py`): handlers take time, ids and randomness only
    from the actor, and what an effect reports (an executor's exit, a failed launch) comes
    back as a message in its mailbox.

    Task checkpoints are written in groups, and what depends on them waits (`commit.py`)."""

    journal_kind: ClassVar[str] = "agent"

    def __init__(
        self,
        config: AgentConfig,
        transport: Transport,
        *,
        agent_id: str,
        launcher: Launcher,
        checkpoint: Checkpoint,
        recovered: Recovered | None = None,
        owns_launcher: bool = False,
        context: ActorContext | None = None,
        sandboxes: Sandboxes | None = None,
        command_executor: CommandInfo | None = None,
    ) -> None:
        super().__init__(agent_address(agent_id), transport, context)
        self._init_group_commit()  # self.transport is now the gate; `transport` the broker's
        self.config = config
        self.agent_id = agent_id
        self.agent_info = AgentInfo(
            hostname=config.hostname,
            resources=config.resources,
            attributes=dict(config.attributes),
            agent_id=agent_id,
            port=config.port,
        )
        self.launcher = launcher
        self.owns_launcher = owns_launcher
        self.checkpoint = checkpoint
        self.sandboxes = sandboxes or Sandboxes(config.work_dir)
        self.files = SandboxFiles(self.sandboxes.root)  # for the master's operator API
        # What the command executor is started as (recorded: replay elsewhere must agree).
        self.command_executor = command_executor or CommandInfo(f"{sys.executable} -m actors.executor")
        self.book = AgentBook(config.completed_tasks_kept)
        self.updates = StatusUpdateManager(config.status_update_backoff, config.status_update_backoff_max)
        # Posts from other threads (exit watchers) must not take ids from the actor's own
        # sequence: when they happen is not reproducible, and replay would shift every id.
        self._local_ids = itertools.count(1)
        self._local_ids_lock = threading.Lock()
        self.post_to_self = poster(transport, self.address, self._local_id)
        self.frameworks_shutting_down: set[str] = set()
        self.recovered_at_start = recovered or Recovered()
        self.alive_at_start: list[ExecutorRun] = []  # checkpointed executor runs found running
        self._start_time: float | None = None
        self._update_timers: dict[StreamKey, str] = {}
        # The link to the master.
        self.leader_address = config.master  # messages of a deposed master are ignored
        # Only the master's principal speaks as the master; everything else (executors,
        # timers, posts from watcher threads) comes from this agent's own principal.
        self.master_principal = config.master_principal or own_principal(transport)
        self.groups = (agents_group(config.master),)  # a new master's call to re-register
        self.registered = False  # registered now (pings arrive)
        self.ever_registered = self.recovered_at_start.registered  # re-register, not register
        self.recovering = False  # waiting for checkpointed executors to answer
        self.ping_interval = config.ping_interval
        self.max_missed_pings = config.max_missed_pings
        self._registration_timer = ""
        self._ping_timer = ""
        self._ping_generation = 0
        self._to_master_later: list[Any] = []

    # --- life cycle -------------------------------------------------------------------

    def on_start(self) -> None:
        # Start-up is replayed as one step at the recorded start time: freeze the time, and
        # ask the launcher which executors survived before the start record is written,
        # so the record holds the answers (`journal_config`).
        self._start_time = self.context.clock.now()
        try:
            self._find_running_executors(self.recovered_at_start)
            super().on_start()
            self._recover(self.recovered_at_start)
            if self.recovering:
                self.delay(self.config.executor_reconnect_timeout, ExecutorReconnectTimeout())
            else:
                self._register(0)
            self.commit()
        finally:
            self._start_time = None

    def on_stop(self) -> None:
        super().on_stop()
        if self.owns_launcher:
            self.launcher.close()

    def now(self) -> float:
        return self._start_time if self._start_time is not None else super().now()

    def _local_id(self) -> str:
        with self._local_ids_lock:
            return f"{self.context.ids.prefix}.local{next(self._local_ids)}"

    def _find_running_executors(self, found: Recovered) -> None:
        """Ask the launcher which checkpointed executors still run (their handles)."""
        for executor in found.executors:
            executor.agent_id = self.agent_id
            env = ExecutorEnv(self.config.broker_url, self.agent_id, *executor.key, executor.sandbox)
            spec = ExecutorSpec(env, executor.info.command, executor.run_id)
            executor.handle = self.launcher.recover(spec, executor.pid, self.exit_reporter(executor))
            if executor.handle is not None:
                self.alive_at_start.append((*executor.key, executor.run_id))

    def _recover(self, found: Recovered) -> None:
        """Take back what the checkpoint holds; ask live executors to reconnect."""
        self.book.frameworks.update(found.frameworks)
        for task in found.tasks:
            self.book.tasks[task.key] = task
        for stream in found.streams:
            self.updates.restore(stream)
        for executor in found.executors:
            self.book.executors[executor.key] = executor
            if executor.handle is None:
                self.executor_gone(executor, -1, "was not running when the agent restarted")
                continue
            executor.phase = ExecutorPhase.RECONNECTING
            self.send(executor.address, ReconnectExecutor(self.agent_id))
            self.recovering = True
        if found.agent_id:
            log.info(
                "%s: recovered %d frameworks, %d executors, %d tasks",
                self.address, len(found.frameworks), len(found.executors), len(found.tasks),
            )

    @on(ExecutorReconnectTimeout)
    def _on_reconnect_timeout(self, msg: ExecutorReconnectTimeout) -> None:
        for executor in list(self.book.executors.values()):
            if executor.phase == ExecutorPhase.RECONNECTING:
                if executor.handle is not None:
                    self.launcher.kill(executor.handle)
                timeout = self.config.executor_reconnect_timeout
                self.executor_gone(executor, -1, f"did not re-register within {timeout:g}s of the agent's restart")
        self.reconnect_progress()

    def reconnect_progress(self) -> None:
        """Once every checkpointed executor answered (or timed out), join the master."""
        if self.recovering and not any(
            e.phase == ExecutorPhase.RECONNECTING for e in self.book.executors.values()
        ):
            self.recovering = False
            self._register(0)

    # --- registration with the master -------------------------------------------------

    def _register(self, attempt: int) -> None:
        self.cancel(self._registration_timer)
        if self.ever_registered:
            message: Any = ReregisterAgent(
                self.agent_info,
                VERSION,
                tasks=tuple(t.as_task(self.agent_id) for t in self.book.tasks.values()),
                executors=tuple(e.info for e in self.book.executors.values()),
                frameworks=tuple(self.book.frameworks.values()),
            )
        else:
            message = RegisterAgent(self.agent_info, VERSION)
        self.send(self.config.master, message)
        # The request waits in the master's queue until a master takes it, so a retry is
        # for a lost request, not a busy master: the first comes after 1-2 factors (a new
        # leader answers 1,000 agents in about a second), then doubling to the cap,
        # jittered to 50-100 % so that agents called together spread out.
        # (the exponent capped: 2 ** 1025 times a float overflows, after 17 hours of retries)
        ceiling = min(self.config.registration_backoff * 2 ** min(attempt + 1, 60), self.config.registration_backoff_max)
        delay = ceiling * (0.5 + self.random.random() / 2)
        self._registration_timer = self.delay(delay, RetryAgentRegistration(attempt + 1))

    @on(RetryAgentRegistration)
    def _on_retry_registration(self, msg: RetryAgentRegistration) -> None:
        if not self.registered and not self.recovering:
            self.counters["registration_retries"] += 1
            self._register(msg.attempt)

    @on(AgentRegistered, AgentReregistered)
    def _on_registered(self, msg: AgentRegistered | AgentReregistered) -> None:
        if msg.agent_id != self.agent_id:
            log.warning("%s: master answered for agent %s; ignored", self.address, msg.agent_id)
            return
        if msg.ping_interval > 0 and msg.max_missed_pings > 0:
            self.ping_interval, self.max_missed_pings = msg.ping_interval, msg.max_missed_pings
        if self.registered:
            return  # the answer to a retried request
        log.info("%s: %s with the master", self.address, "registered" if isinstance(msg, AgentRegistered) else "re-registered")
        self.registered = True
        self.cancel(self._registration_timer)
        if not self.ever_registered:
            self.ever_registered = True
            self.checkpoint.save_agent(self.agent_id, registered=True)
        self._expect_ping()
        pending, self._to_master_later = self._to_master_later, []
        for body in pending:
            self.send(self.config.master, body)
        self.resend_all_updates()

    def send_to_master(self, body: Any) -> None:
        """Send now if registered, else right after the next (re-)registration."""
        if self.registered:
            self.send(self.config.master, body)
        else:
            self._to_master_later.append(body)

    def _lost_master(self, why: str) -> None:
        log.warning("%s: %s; re-registering", self.address, why)
        self.registered = False
        self.cancel(self._ping_timer)
        self._register(0)

    # --- health -----------------------------------------------------------------------

    @on(PingAgent)
    def _on_ping(self, msg: PingAgent) -> None:
        from_master = self.envelope is not None and self.envelope.sender == self.config.master
        if from_master and not msg.connected and self.registered:
            # The master does not count this agent (a new leader's call to all agents, or
            # it forgot it): the re-registration is the answer. A pong would only be
            # counted and dropped by that master, a message per agent in its busiest moment.
            self._lost_master("the master does not count this agent as connected")
            return
        self.reply(PongAgent(self.agent_id))
        if not self.registered or not from_master:
            return  # only the master's pings say anything about the master (executors ask too)
        self._expect_ping()

    def _expect_ping(self) -> None:
        self.cancel(self._ping_timer)
        self._ping_generation += 1
        timeout = self.ping_interval * self.max_missed_pings
        self._ping_timer = self.delay(timeout, AgentPingTimeout(self._ping_generation))

    @on(AgentPingTimeout)
    def _on_ping_timeout(self, msg: AgentPingTimeout) -> None:
        if self.registered and msg.generation == self._ping_generation:
            self.leader_epoch = 0  # no master at all: whichever answers next leads, whatever its epoch
            self._lost_master(f"no ping from the master for {self.ping_interval * self.max_missed_pings:g}s")

    @on(ListSandbox, ReadSandboxFile)
    def _on_sandbox_files(self, msg: Any) -> None:
        self.reply(self.files.list(msg) if isinstance(msg, ListSandbox) else self.files.read(msg))

    def sender_problem(self, envelope: Envelope, user: str) -> str | None:
        return from_leader_or_self(self, envelope, user, master_principal=self.master_principal)

    # --- the end ----------------------------------------------------------------------

    @on(ShutdownAgent)
    def _on_shutdown_agent(self, msg: ShutdownAgent) -> None:
        leaving = self.envelope is not None and self.envelope.sender == self.address  # leave()
        if not leaving:
            log.warning("%s: the master told this agent to shut down: %s", self.address, msg.message)
        self._shut_everything_down()
        if leaving:
            self.send(self.config.master, UnregisterAgent(self.agent_id))
        self.wipe_checkpoint()  # a removed agent's id must not come back
        self.stop()

    def leave(self) -> None:
        """A clean, final shutdown (the operator's): stop executors, unregister, stop.
        Call through the actor's proxy: `ref.proxy().leave().get()`.

        Handled now, as a ShutdownAgent from the agent itself that is written to the
        journal first: what it sends must have a recorded cause, or replay cannot match it."""
        envelope = Envelope(
            id=self._local_id(), sender=self.address, target=self.address,
            body=ShutdownAgent("the operator asked this agent to leave"), sent_at=self.now(),
        )
        self.transport.record(envelope)
        self.dispatch(envelope)

    # --- journal and replay -----------------------------------------------------------

    def journal_config(self) -> dict[str, Any]:
        """Plain data to rebuild this agent as it started (see `replay.py`)."""
        return journal_config(self)

    @classmethod
    def from_journal(cls, config: dict[str, Any], transport: Transport, context: ActorContext) -> "Agent":
        """This agent as it started in a recorded run, with effects that touch nothing."""
        return rebuild(cls, config, transport, context)

    def _shut_everything_down(self) -> None:
        for executor in list(self.book.executors.values()):
            if executor.phase == ExecutorPhase.REGISTERED:
                self.send(executor.address, ShutdownExecutor(*executor.key))
            elif executor.handle is not None:
                self.launcher.kill(executor.handle)

    # --- helpers for the other handler groups -----------------------------------------

    def lost_state(self, framework_id: str) -> TaskState:
        framework = self.book.frameworks.get(framework_id)
        return TaskState.TASK_GONE if framework is not None and framework.partition_aware else TaskState.TASK_LOST

    def state(self) -> dict[str, Any]:
        """A plain snapshot for the CLI and HTTP: `ref.proxy().state().get()`."""
        from actors.agent.report import agent_state

        return agent_state(self)


def start_agent(
    transport: Transport,
    config: AgentConfig,
    *,
    launcher: Launcher | None = None,
    context: ActorContext | None = None,
):
    """Recover the work dir's checkpoint and start the agent; returns its actor ref.

    The agent id is the checkpointed one, else `config.agent_id`, else a new one (saved
    before the agent first registers). Raises ConfigError or CheckpointError.
    """
    checkpoint = Checkpoint(config.meta_dir) if config.checkpoint else NullCheckpoint()
    recovered = checkpoint.load()
    if recovered.agent_id and config.agent_id and recovered.agent_id != config.agent_id:
        raise ConfigError(
            f"--agent-id {config.agent_id}: the work dir {config.work_dir} belongs to agent "
            f"{recovered.agent_id} (use another work dir, or remove {config.meta_dir})"
        )
    # A new id starts with the principal, so that broker permissions can name its queues.
    agent_id = recovered.agent_id or config.agent_id or principal_id(own_principal(transport), str(uuidlib.uuid4()))
    problem = address_id_problem("--agent-id", agent_id)
    if problem:
        raise ConfigError(problem)
    if not recovered.agent_id:
        checkpoint.save_agent(agent_id, registered=False)
    owns = launcher is None
    if launcher is None:
        launcher = make_launcher(config, transport)
    return Agent.start(
        config,
        transport,
        agent_id=agent_id,
        launcher=launcher,
        checkpoint=checkpoint,
        recovered=recovered,
        owns_launcher=owns,
        context=context,
    )


def make_launcher(config: AgentConfig, transport: Transport) -> Launcher:
    """The launcher for `config.executor_mode` (auto: in-process on memory://)."""
    embedded = config.broker_url.startswith("memory:")
    mode = config.executor_mode
    if mode == "auto":
        mode = "in-process" if embedded else "process"
    if mode == "noop":
        return NoopLauncher()
    if mode == "in-process":
        return InProcessLauncher(transport)
    if embedded:
        raise ConfigError("--executor-mode process needs a broker (amqp://): executor processes cannot reach memory://")
    return ProcessLauncher()
