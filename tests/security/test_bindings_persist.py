"""The principal an agent or framework id was registered by outlives its master: a leader
that starts after a failover (from the registry) refuses another principal re-registering
the id before its owner is back, and takes the owner."""

from __future__ import annotations

import pytest

from actors.master import MasterConfig
from actors.registry import MemoryRegistryLog, Registry
from actors.registry.registry import fold
from messages import AgentRegistered, FrameworkInfo, RegisterAgent, RegisterFramework, ReregisterAgent, \
    ReregisterFramework
from messages.registry import PrincipalBound
from tests.security.test_identity_master import publish_as, refusals
from tests.unit.master.fakes import Cluster


@pytest.fixture
def log():
    return MemoryRegistryLog()


@pytest.fixture
def first(transport, clock, log):
    registry = Registry.elect(log, "m1", "n1")
    cluster = Cluster(transport, clock, MasterConfig(master_id="m1", epoch=registry.epoch), real_allocator=True,
                      registry=registry)
    yield cluster
    cluster.stop()


def test_a_new_leader_refuses_another_principal_re_registering_a_known_agent_id(first, log):
    agent = first.agent("a1", register=False)
    publish_as(first, "rack1", agent.address, RegisterAgent(agent.info))
    assert agent.last(AgentRegistered).agent_id == "a1"
    first.fail_over(Registry.elect(log, "m2", "n2"))
    agent.clear()

    publish_as(first, "mallory", agent.address, ReregisterAgent(agent.info))
    assert "agent 'a1' belongs to principal 'rack1', not 'mallory'" in refusals(first)[-1]
    assert first.state()["agents"] == []

    publish_as(first, "rack1", agent.address, ReregisterAgent(agent.info))
    assert [a["id"] for a in first.state()["agents"]] == ["a1"]


def test_a_new_leader_refuses_another_principal_re_registering_a_known_framework_id(first, log):
    fw = first.framework("f1", register=False)
    info = FrameworkInfo(**{**fw.info.__dict__, "principal": ""})  # declares no principal: bound to its registrant
    publish_as(first, "alice", fw.address, RegisterFramework(info))
    assert [f["id"] for f in first.state()["frameworks"]] == ["f1"]
    first.fail_over(Registry.elect(log, "m2", "n2"))

    publish_as(first, "mallory", fw.address, ReregisterFramework(info))
    assert "framework 'f1' belongs to principal 'alice', not 'mallory'" in refusals(first)[-1]
    assert first.state()["frameworks"] == []

    publish_as(first, "alice", fw.address, ReregisterFramework(info))
    assert [f["id"] for f in first.state()["frameworks"]] == ["f1"]


def test_bindings_are_written_once_and_survive_a_registry_snapshot(first, log):
    agent = first.agent("a1", register=False)
    for _ in range(3):  # re-registrations by the same principal write nothing new
        publish_as(first, "rack1", agent.address, ReregisterAgent(agent.info))
    bound = [r for _, r in log.read() if isinstance(r, PrincipalBound)]
    assert [(b.kind, b.id, b.principal) for b in bound] == [("agent", "a1", "rack1")]
    registry = Registry.elect(log, "m2", "n2")
    registry.snapshot()
    state, _ = fold(log.read())
    assert dict(state.agent_principals) == {"a1": "rack1"}
