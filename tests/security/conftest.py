"""Fixtures of the security tests: a real Master among fake actors on the memory transport,
where the master runs as "mesobus" and others publish as their own principals."""

from __future__ import annotations

import pytest

from tests.unit.master.fakes import Cluster


@pytest.fixture
def cluster(transport, clock):
    c = Cluster(transport, clock)
    yield c
    c.stop()
