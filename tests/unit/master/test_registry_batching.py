"""Registry writes are made durable once per burst of messages (a group commit, as Mesos'
registrar applies the operations that arrived during a write in the next one), and
nothing the master says that relies on them leaves before: checked with a registry log
whose flushes (the broker's confirms, the file's fsync) the test controls."""

from __future__ import annotations

import threading

import pytest

import actors.runtime.actor as runtime_actor
from actors.registry import FileRegistryLog, MemoryRegistryLog, Registry, RegistryError
from actors.runtime import actor_deaths
from messages import AgentAdded, AgentInfo, AgentRegistered, Envelope, RegisterAgent, Resources
from messages.registry import AgentAdmission
from tests.unit.master.fakes import Cluster


class GatedLog(MemoryRegistryLog):
    """A memory log whose `flush` waits until the test opens the gate (or fails, when
    told to); it keeps which agents' admissions each flush made durable."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.gate = threading.Event()
        self.flushing = threading.Event()  # a flush is waiting at the gate
        self.flushes = 0
        self.durable: set[str] = set()  # agent ids whose AgentAdmission was flushed

    def flush(self) -> None:
        self.flushing.set()
        if self.fail:
            raise RegistryError("the registry stream did not confirm 1 records: no confirm after 10s")
        assert self.gate.wait(10), "the test never opened the gate"
        with self._lock:
            self.durable.update(r.agent_id for r in self.records if isinstance(r, AgentAdmission))
        self.flushes += 1
        self.flushing.clear()


def register(cluster: Cluster, n: int) -> None:
    info = AgentInfo(agent_id=f"a{n}", hostname=f"a{n}.test", resources=Resources.parse("cpus:4;mem:4096"))
    cluster.send(f"agent.a{n}", RegisterAgent(info))


@pytest.fixture
def one_long_burst(monkeypatch):
    """Whatever waits in the master's mailbox is handled as one burst (the runtime
    otherwise cuts a burst every 5 ms, which a loaded test host would make vary)."""
    monkeypatch.setattr(runtime_actor, "BATCH_SECONDS", 60.0)


def test_first_registrations_are_answered_only_once_their_admissions_are_durable(transport, clock, one_long_burst):
    log = GatedLog()
    answered_before_durable: list[str] = []

    def tap(envelope: Envelope, _body: bytes) -> None:  # sees every message as it is published
        if isinstance(envelope.body, (AgentRegistered, AgentAdded)) and envelope.body.agent_id not in log.durable:
            answered_before_durable.append(envelope.body.agent_id)

    transport.taps.append(tap)
    cluster = Cluster(transport, clock, registry=Registry(log))
    try:
        for n in range(10):
            cluster.agent(f"a{n}", register=False)
        register(cluster, 0)
        assert log.flushing.wait(10)
        # The admission is written and applied, the flush waits: nothing left the master,
        # and the registration is not acknowledged to the transport.
        assert [r.agent_id for r in log.records if isinstance(r, AgentAdmission)] == ["a0"]
        assert cluster.agents["a0"].got(AgentRegistered) == [] and cluster.allocator_got(AgentAdded) == []
        assert transport.pending("master") == 1
        for n in range(1, 10):  # these arrive while the write is in flight
            register(cluster, n)
        log.gate.set()
        cluster.settle()
        assert all(cluster.agents[f"a{n}"].got(AgentRegistered) for n in range(10))
        assert len(cluster.allocator_got(AgentAdded)) == 10
        assert answered_before_durable == []
        # One flush for the first burst, one for the nine that waited behind it.
        assert log.flushes == 2
        assert len(log.records) >= 10
    finally:
        log.gate.set()
        cluster.stop()


def test_a_registry_flush_that_fails_lets_nothing_out_and_stops_the_master(transport, clock, one_long_burst):
    log = GatedLog(fail=True)
    cluster = Cluster(transport, clock, registry=Registry(log))
    try:
        cluster.agent("a0", register=False)
        register(cluster, 0)
        died = actor_deaths.wait(10)
        assert died is not None and died[0] == "master" and "did not confirm" in died[1]
        cluster.master.actor_stopped.wait(10)
        assert not cluster.master.is_alive()
        # Nothing of the burst left: no answer, no AgentAdded, and the registration was
        # not acknowledged: it is back in the mailbox, for the next leader.
        assert cluster.agents["a0"].got() == [] and cluster.allocator_got() == []
        assert transport.pending("master") == 1
        assert transport.dead_letters == []
    finally:
        cluster.stop()


def test_a_registry_without_an_actor_writes_durably_at_once():
    log = GatedLog()
    log.gate.set()
    registry = Registry(log)
    registry.write(AgentAdmission("a1", "h1"))
    assert log.flushes == 1 and log.durable == {"a1"}
    registry.flush()  # nothing waits: no flush
    assert log.flushes == 1


def test_the_file_log_writes_a_burst_with_one_fsync_and_reads_only_what_was_flushed(tmp_path, monkeypatch):
    import actors.registry.log as registry_log

    fsyncs: list[int] = []
    real_fsync = registry_log.os.fsync
    monkeypatch.setattr(registry_log.os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    log = FileRegistryLog(tmp_path / "registry")
    for n in range(3):
        log.write(AgentAdmission(f"a{n}", f"h{n}"))
    assert list(log.read()) == []  # staged, not yet durable
    log.flush()
    log.flush()  # nothing staged: no fsync
    assert len(fsyncs) == 1
    assert [r.agent_id for _, r in FileRegistryLog(tmp_path / "registry").read()] == ["a0", "a1", "a2"]


def test_a_file_log_whose_flush_failed_refuses_every_later_flush(tmp_path, monkeypatch):
    import actors.registry.log as registry_log

    log = FileRegistryLog(tmp_path / "registry")
    log.write(AgentAdmission("a0", "h0"))

    def broken(_fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(registry_log.os, "fsync", broken)
    with pytest.raises(RegistryError, match="Input/output error"):
        log.flush()
    monkeypatch.undo()
    log.write(AgentAdmission("a1", "h1"))
    with pytest.raises(RegistryError, match="Input/output error"):  # what is in the file is unknown now
        log.flush()
