"""The master's sender checks: which principal may send what (docs/security.md).

- the master's own principal (its connection's user) speaks as `master` and `allocator`,
  and only the master itself sends its timers;
- a framework id is bound to the principal that registered it: only that principal may
  re-register it or act for it (accept, decline, kill, acknowledge, ...); a FrameworkInfo
  naming another `principal` than the publisher's is refused;
- an agent id is bound to the principal that registered it: only that principal may
  re-register, unregister, pong or send status updates as that agent, and an update about
  a task must come from the agent the task is on (its output, TaskOutput, from the agent
  and executor the task is on, and only about a task the master knows).

A binding is made once the registration was accepted (`bind_after`) and written to the
registry (`PrincipalBound`), so that a master that leads after a restart or a failover
refuses another principal re-registering a known id before its owner comes back. The
in-memory binding is dropped when the master no longer knows the framework or agent; the
registry's is kept (the most recent MAX_BINDINGS of them).

The ACLs (`actors/master/acls.py`) are checked here too, for the publisher's principal:
`register_frameworks` (each role of a registration), `run_tasks` (the user each launched
task would run as), `reserve_resources` (the roles of a RESERVE), `unreserve_resources`
(the principals that made the reservations an UNRESERVE gives back) and `register_agents`
(an agent's RegisterAgent / ReregisterAgent).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from actors.registry.log import RegistryError
from actors.security import reservers
from actors.security.senders import claims, from_self, own_principal, shown
from messages import (
    OperationType,
    Accept,
    Decline,
    DeactivateFramework,
    Envelope,
    ExecutorToFramework,
    ExitedExecutor,
    FrameworkHeartbeat,
    FrameworkToExecutor,
    KillTask,
    PongAgent,
    ReconcileTasks,
    RegisterAgent,
    RegisterFramework,
    ReregisterAgent,
    ReregisterFramework,
    ResourcesAllocated,
    Revive,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    Suppress,
    TaskOutput,
    TaskOutputAck,
    UnregisterAgent,
    UnregisterFramework,
)
from messages.master_timers import AgentPingTimer, FrameworkFailoverTimer, FrameworkHeartbeatTimer, OfferTimer
from messages.registry import PrincipalBound


class Acls(Protocol):
    """What the checks ask of the ACLs (actors/master/acls.py)."""

    def allows(self, action: str, principal: str, obj: str = "") -> bool: ...


class Checked(Protocol):
    """What the checks read of the master: its address and transport, the allocator's
    address, its frameworks, agents, tasks and offers (each looked up with `get`) and its
    registry (`.state`)."""

    address: str
    transport: Any
    config: Any  # .allocator_address
    frameworks: Any
    agents: Any
    tasks: Any
    offers: Any


log = logging.getLogger(__name__)

TIMERS = (AgentPingTimer, FrameworkFailoverTimer, FrameworkHeartbeatTimer, OfferTimer)
FRAMEWORK_REGISTRATIONS = (RegisterFramework, ReregisterFramework)
AGENT_REGISTRATIONS = (RegisterAgent, ReregisterAgent)
# Messages a framework sends about itself: the framework id they name.
FRAMEWORK_IDS: dict[type, Callable[[object], str]] = {
    RegisterFramework: lambda m: m.framework.framework_id,
    ReregisterFramework: lambda m: m.framework.framework_id,
    **{
        t: (lambda m: m.framework_id)
        for t in (
            FrameworkHeartbeat, UnregisterFramework, DeactivateFramework, Accept, Decline, Revive,
            Suppress, KillTask, ReconcileTasks, StatusUpdateAcknowledgement, FrameworkToExecutor,
            TaskOutputAck,
        )
    },
}
# Messages an agent sends about itself: the agent id they name.
AGENT_IDS: dict[type, Callable[[object], str]] = {
    RegisterAgent: lambda m: m.agent.agent_id,
    ReregisterAgent: lambda m: m.agent.agent_id,
    **{
        t: (lambda m: m.agent_id)
        for t in (UnregisterAgent, PongAgent, StatusUpdate, ExitedExecutor, ExecutorToFramework, TaskOutput)
    },
}


class MasterTrust:
    """The principals bound to framework and agent ids, and the checks against them."""

    def __init__(self, master: Checked, acls: Acls) -> None:
        self.m = master
        self.acls = acls
        self.frameworks: dict[str, str] = {}  # framework id -> principal
        self.agents: dict[str, str] = {}  # agent id -> principal
        self._prune_at = 1024  # forget bindings of ids gone, once there are this many

    @property
    def principal(self) -> str:
        """The master's own principal (the master and allocator publish as it)."""
        return own_principal(self.m.transport)

    def problem(self, envelope: Envelope, user: str) -> str | None:
        """Why `envelope`, published by `user`, must not be handled; or None."""
        m, body = self.m, envelope.body
        kind = type(body)
        if kind in TIMERS:
            return from_self(m, envelope, user)
        if envelope.sender in (m.address, m.config.allocator_address):
            return claims(envelope, envelope.sender, self.principal, user)
        if kind is ResourcesAllocated:
            return f"ResourcesAllocated is only taken from {m.config.allocator_address!r}, not {envelope.sender[:80]!r}"
        get_framework = FRAMEWORK_IDS.get(kind)
        if get_framework is not None:
            return self._framework_problem(kind, body, get_framework(body), user)
        get_agent = AGENT_IDS.get(kind)
        if get_agent is not None:
            return self._agent_problem(kind, body, get_agent(body), user)
        return None

    def bind_after(self, envelope: Envelope, user: str) -> None:
        """After a registration was handled: bind the id it registered to its principal
        (and write it to the registry when the registry does not have it yet)."""
        body = envelope.body
        if isinstance(body, FRAMEWORK_REGISTRATIONS):
            fid = body.framework.framework_id
            if self.m.frameworks.get(fid) is not None:
                self.frameworks[fid] = user
                self._persist("framework", fid, user, self.m.registry.state.framework_principals)
        elif isinstance(body, AGENT_REGISTRATIONS):
            aid = body.agent.agent_id
            if self.m.agents.get(aid) is not None:
                self.agents[aid] = user
                self._persist("agent", aid, user, self.m.registry.state.agent_principals)
        if len(self.frameworks) + len(self.agents) > self._prune_at:
            self._prune()

    def _persist(self, kind: str, key: str, user: str, known: dict[str, str]) -> None:
        if known.get(key) == user:
            return
        try:
            self.m.registry.write(PrincipalBound(kind, key, user))
        except RegistryError as err:  # kept in memory: only a later leader would not know it
            log.warning("master: could not write the principal of %s %s to the registry: %s", kind, key[:80], err)

    def _persisted(self, kind: str, key: str) -> str:
        state = self.m.registry.state
        return (state.agent_principals if kind == "agent" else state.framework_principals).get(key, "")

    def _prune(self) -> None:
        """Forget the bindings of ids the master no longer knows (removed long ago)."""
        for fid in [f for f in self.frameworks if self.m.frameworks.get(f) is None]:
            del self.frameworks[fid]
        for aid in [a for a in self.agents if self.m.agents.get(a) is None]:
            del self.agents[aid]
        self._prune_at = max(1024, 2 * (len(self.frameworks) + len(self.agents)))

    # --- frameworks -------------------------------------------------------------------

    def _framework_problem(self, kind: type, body: object, fid: str, user: str) -> str | None:
        record = self.m.frameworks.get(fid)
        if record is None:
            self.frameworks.pop(fid, None)
        bound = (self.frameworks.get(fid) or self._persisted("framework", fid)
                 or (record.info.principal if record is not None else ""))
        if kind in FRAMEWORK_REGISTRATIONS:
            declared = body.framework.principal  # type: ignore[attr-defined]
            if declared and declared != user:
                return (f"the framework declares principal {shown(declared)} but was registered "
                        f"by {shown(user)}")
        elif record is not None and not bound:
            return f"framework {fid[:80]!r} has not registered with this master: {kind.__name__} refused"
        if bound and bound != user:
            return f"framework {fid[:80]!r} belongs to principal {shown(bound)}, not {shown(user)}"
        if kind in FRAMEWORK_REGISTRATIONS:
            for role in body.framework.roles:  # type: ignore[attr-defined]
                if not self.acls.allows("register_frameworks", user, role):
                    return (f"principal {shown(user)} may not register a framework with role "
                            f"{role[:80]!r} (ACL register_frameworks)")
        elif kind is Accept and record is not None:
            return self._accept_problem(body, record.info.user, user)  # type: ignore[arg-type]
        return None

    def _accept_problem(self, accept: Accept, framework_user: str, principal: str) -> str | None:
        for operation in accept.operations:
            if operation.type == OperationType.LAUNCH:
                for task in operation.tasks:
                    task_user = _task_user(task, framework_user)
                    if not self.acls.allows("run_tasks", principal, task_user):
                        return (f"principal {shown(principal)} may not run tasks as user {task_user[:64]!r} "
                                f"(ACL run_tasks): task {task.task_id[:80]!r}")
            elif operation.type in (OperationType.RESERVE, OperationType.UNRESERVE):
                offer = next((o for o in map(self.m.offers.get, accept.offer_ids) if o is not None), None)
                if offer is None:  # no outstanding offer: the accept is refused for that, with its answer
                    continue
                known = self.m.registry.state.reservers.get(offer.agent_id, {})
                why = reservers.refusal(self.acls, principal, operation.resources, known,
                                        reserve=operation.type is OperationType.RESERVE)
                if why:
                    return why
        return None

    # --- agents -----------------------------------------------------------------------

    def _agent_problem(self, kind: type, body: object, aid: str, user: str) -> str | None:
        record = self.m.agents.get(aid)
        if record is None:
            self.agents.pop(aid, None)
        bound = self.agents.get(aid) or self._persisted("agent", aid)
        if kind not in AGENT_REGISTRATIONS and record is not None and not bound:
            return f"agent {aid[:80]!r} has not registered with this master: {kind.__name__} refused"
        if bound and bound != user:
            return f"agent {aid[:80]!r} belongs to principal {shown(bound)}, not {shown(user)}"
        if kind in AGENT_REGISTRATIONS and not self.acls.allows("register_agents", user):
            return f"principal {shown(user)} may not register agents (ACL register_agents): agent {aid[:80]!r} refused"
        if kind is StatusUpdate:
            task = self.m.tasks.get(body.framework_id, body.status.task_id)  # type: ignore[attr-defined]
            if task is not None and task.agent_id != aid:
                return f"task {task.task_id[:80]!r} runs on agent {task.agent_id!r}, not {aid[:80]!r}"
        elif kind is TaskOutput:
            return _output_problem(self.m, body, aid)  # type: ignore[arg-type]
        return None


def _output_problem(master: Checked, msg: TaskOutput, aid: str) -> str | None:
    """A task's output is relayed only from the agent and executor the task is on
    (actors/master/output_relay.py); the task may have ended (the rest of its output follows)."""
    if master.agents.get(aid) is None:  # (then no principal is bound to the id)
        return f"TaskOutput from agent {aid[:80]!r}, which this master does not know"
    task = master.tasks.find(msg.framework_id, msg.task_id)
    if task is None:
        return f"TaskOutput for task {msg.task_id[:80]!r} of framework {msg.framework_id[:80]!r}, which this master does not know"
    if task.agent_id != aid or task.executor_id != msg.executor_id:
        return (f"task {task.task_id[:80]!r} runs on agent {task.agent_id!r} in executor {task.executor_id!r}, "
                f"not {aid[:80]!r} in {msg.executor_id[:80]!r}")
    return None


def _task_user(task, framework_user: str) -> str:
    """The user a task would run as: its command's, its executor's, else its framework's."""
    for command in (task.command, task.executor.command if task.executor is not None else None):
        if command is not None and command.user:
            return command.user
    return framework_user
