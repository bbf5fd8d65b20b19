"""Fixtures of the master's tests: a real Master among fake actors (see fakes.py)."""

from __future__ import annotations

import pytest

from tests.unit.master.fakes import Cluster


@pytest.fixture
def cluster(transport, clock):
    c = Cluster(transport, clock)
    yield c
    c.stop()
