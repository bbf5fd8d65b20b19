"""Helper actors for the master's tests: fake frameworks, agents and allocator that record
what they receive, and a `Cluster` that wires them to a real `Master` on the memory
transport with a virtual clock.

    cluster = Cluster(transport, clock)
    fw = cluster.framework("f1")           # registered
    agent = cluster.agent("a1", "cpus:4;mem:4096")
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096")   # as if the allocator said so
    fw.send(Accept("f1", (offer.offer_id,), ...)); cluster.settle()
    fw.last(StatusUpdate)

Fake frameworks heartbeat at every step of `cluster.advance` (while `fw.alive`); fake
agents answer pings (while `agent.alive`).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from typing import Any

from actors.master import Master, MasterConfig, start_master
from actors.registry import Registry
from actors.runtime import Actor, MemoryTransport, VirtualClock
from messages import (
    AgentInfo,
    AllocationEntry,
    Envelope,
    FrameworkHeartbeat,
    FrameworkInfo,
    Offer,
    PingAgent,
    PongAgent,
    RegisterAgent,
    RegisterFramework,
    ResourceOffers,
    Resources,
    ResourcesAllocated,
    StatusUpdate,
)

_ids = itertools.count(1)


class Recorder:
    """What one fake actor received, safe to read from the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.envelopes: list[Envelope] = []
        self.alive = True  # fake agents answer pings, fake frameworks heartbeat

    def add(self, envelope: Envelope) -> None:
        with self._lock:
            self.envelopes.append(envelope)

    def got(self, kind: type | None = None) -> list[Any]:
        """The bodies received (of one type), oldest first."""
        with self._lock:
            return [e.body for e in self.envelopes if kind is None or isinstance(e.body, kind)]

    def last(self, kind: type) -> Any:
        found = self.got(kind)
        assert found, f"nothing of type {kind.__name__} received; got {[type(b).__name__ for b in self.got()]}"
        return found[-1]

    def clear(self) -> None:
        with self._lock:
            self.envelopes.clear()


class FakeActor(Actor):
    """Records every message (no handler needed) and maybe reacts to it."""

    def __init__(self, address: str, transport: MemoryTransport, recorder: Recorder) -> None:
        super().__init__(address, transport)
        self.recorder = recorder

    def dispatch(self, envelope: Envelope, user_id: str = "") -> str | None:
        self.recorder.add(envelope)
        self.react(envelope.body)
        return None

    def react(self, body: Any) -> None:
        pass


class FakeAgentActor(FakeActor):
    def react(self, body: Any) -> None:
        if isinstance(body, PingAgent) and body.connected and self.recorder.alive:
            self.send("master", PongAgent(self.address.removeprefix("agent.")))


class Handle:
    """The test's side of a fake actor: what it got, and sending as it."""

    def __init__(self, cluster: "Cluster", address: str, recorder: Recorder) -> None:
        self.cluster = cluster
        self.address = address
        self.recorder = recorder

    def send(self, body: Any, target: str = "master", settle: bool = True) -> None:
        self.cluster.send(self.address, body, target)
        if settle:
            self.cluster.settle()

    def got(self, kind: type | None = None) -> list[Any]:
        return self.recorder.got(kind)

    def last(self, kind: type) -> Any:
        return self.recorder.last(kind)

    def clear(self) -> None:
        self.recorder.clear()

    @property
    def alive(self) -> bool:
        return self.recorder.alive

    @alive.setter
    def alive(self, value: bool) -> None:
        self.recorder.alive = value


class FrameworkHandle(Handle):
    def __init__(self, cluster: "Cluster", info: FrameworkInfo, recorder: Recorder) -> None:
        super().__init__(cluster, f"framework.{info.framework_id}", recorder)
        self.info = info
        self.id = info.framework_id

    def statuses(self) -> list:
        """The TaskStatus of every StatusUpdate received, oldest first."""
        return [u.status for u in self.got(StatusUpdate)]

    def offers(self) -> list[Offer]:
        return [o for batch in self.got(ResourceOffers) for o in batch.offers]


class AgentHandle(Handle):
    def __init__(self, cluster: "Cluster", info: AgentInfo, recorder: Recorder) -> None:
        super().__init__(cluster, f"agent.{info.agent_id}", recorder)
        self.info = info
        self.id = info.agent_id


class Cluster:
    """A real Master with fake everything else around it."""

    def __init__(
        self,
        transport: MemoryTransport,
        clock: VirtualClock,
        config: MasterConfig | None = None,
        *,
        real_allocator: bool = False,
        registry: Registry | None = None,
    ) -> None:
        self.transport = transport
        self.clock = clock
        self.config = config or MasterConfig(master_id="m1", hostname="master.test")
        self._refs: list = []
        if real_allocator:  # the real AllocatorActor, started with the master
            self.master, self.allocator_ref = start_master(transport, self.config, registry=registry)
            self._refs += [self.allocator_ref, self.master]
            self.allocator = Recorder()  # stays empty: nothing fake listens
        else:
            self.allocator = self._fake("allocator", FakeActor)
            self.master = Master.start(transport, self.config, registry=registry)
            self._refs.append(self.master)
        self.frameworks: dict[str, FrameworkHandle] = {}
        self.agents: dict[str, AgentHandle] = {}

    def _fake(self, address: str, kind: type[FakeActor]) -> Recorder:
        recorder = Recorder()
        self._refs.append(kind.start(address, self.transport, recorder))
        return recorder

    def stop(self) -> None:
        for ref in reversed(self._refs):
            ref.stop()

    def fail_over(self, registry: Registry) -> None:
        """The master and allocator end (as if killed: no goodbyes) and a new leader with
        `registry` starts on the same mailboxes (real_allocator clusters only)."""
        for ref in (self.master, self.allocator_ref):
            ref.stop()
            self._refs.remove(ref)
        self.config = dataclasses.replace(self.config, master_id="m2", epoch=registry.epoch)
        self.master, self.allocator_ref = start_master(self.transport, self.config, registry=registry)
        self._refs += [self.allocator_ref, self.master]
        self.settle()

    # --- driving ----------------------------------------------------------------------

    def send(self, sender: str, body: Any, target: str = "master") -> None:
        epoch = self.config.epoch if sender == self.config.allocator_address else 0  # the leader's allocator
        envelope = Envelope(
            id=f"test-{next(_ids)}", sender=sender, target=target, body=body, sent_at=self.clock.now(), epoch=epoch,
        )
        self.transport.publish(envelope)

    def settle(self) -> None:
        self.transport.settle()

    def advance(self, seconds: float, step: float = 5.0) -> None:
        """Move time in steps; live fake frameworks heartbeat before each step."""
        left = seconds
        while left > 1e-9:
            for fw in self.frameworks.values():
                if fw.alive:
                    self.send(fw.address, FrameworkHeartbeat(fw.id))
            self.settle()
            dt = min(step, left)
            self.clock.advance(dt)
            self.settle()
            left -= dt

    def state(self) -> dict:
        self.settle()
        return self.master.proxy().state().get()

    # --- actors ---------------------------------------------------------------------

    def framework(self, framework_id: str, *, register: bool = True, **info: Any) -> FrameworkHandle:
        info.setdefault("user", "tester")
        info.setdefault("name", f"fw {framework_id}")
        framework = FrameworkInfo(framework_id=framework_id, **info)
        handle = FrameworkHandle(self, framework, self._fake(f"framework.{framework_id}", FakeActor))
        self.frameworks[framework_id] = handle
        if register:
            handle.send(RegisterFramework(framework))
        return handle

    def agent(
        self, agent_id: str, resources: str = "cpus:4;mem:4096", *, register: bool = True, **info: Any
    ) -> AgentHandle:
        info.setdefault("hostname", f"{agent_id}.test")
        agent = AgentInfo(agent_id=agent_id, resources=Resources.parse(resources), **info)
        handle = AgentHandle(self, agent, self._fake(f"agent.{agent_id}", FakeAgentActor))
        self.agents[agent_id] = handle
        if register:
            handle.send(RegisterAgent(agent))
        return handle

    def allocate(self, *entries: tuple[str, str, str] | tuple[str, str, str, str]) -> None:
        """Make the master offer as if the allocator allocated (framework, agent, resources[, role])."""
        allocations = tuple(
            AllocationEntry(e[0], e[1], e[3] if len(e) > 3 else "*", Resources.parse(e[2])) for e in entries
        )
        self.send("allocator", ResourcesAllocated(allocations))
        self.settle()

    def offer(self, framework_id: str, agent_id: str, resources: str, role: str = "*") -> Offer:
        """One new offer for the framework; returns it as the framework received it."""
        fw = self.frameworks[framework_id]
        before = len(fw.offers())
        self.allocate((framework_id, agent_id, resources, role))
        offers = fw.offers()
        assert len(offers) == before + 1, f"no offer made: {fw.got()}"
        return offers[-1]

    def allocator_got(self, kind: type | None = None) -> list[Any]:
        return self.allocator.got(kind)
