"""Fixtures for agent tests: a fake master plus an agent on the memory transport."""

from __future__ import annotations

import pytest

from actors.agent.launcher import InProcessLauncher
from actors.executor.limits import NoLimits
from tests.unit.agent.fakes import CMD, Cluster, FakeLauncher, Recorder


@pytest.fixture
def launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def cluster(transport, tmp_path, launcher):
    c = Cluster(transport, tmp_path / "work", launcher)
    yield c
    c.stop()


@pytest.fixture
def executor(transport):
    """Stands in for the command executor's mailbox and records what the agent sends it."""
    ref = Recorder.start(CMD, transport)
    ref.proxy().address.get()
    yield ref._actor_weakref()
    ref.stop()


@pytest.fixture
def embedded(transport, tmp_path):
    """The agent with real command executors in its process (real processes, no limits)."""
    launcher = InProcessLauncher(transport, command_executor_options={"limits": NoLimits()})
    c = Cluster(transport, tmp_path / "work", launcher, master={"auto_ack": True})
    yield c
    c.stop()
    launcher.close()
