"""Fixtures for agent tests: a fake master plus an agent on the memory transport."""

from __future__ import annotations

import pytest

from tests.unit.agent.fakes import Cluster, FakeLauncher


@pytest.fixture
def launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def cluster(transport, tmp_path, launcher):
    c = Cluster(transport, tmp_path / "work", launcher)
    yield c
    c.stop()
