from __future__ import annotations

import pytest

from tests.unit.executor.fakes import FakeAgent


@pytest.fixture
def agent(transport):
    ref = FakeAgent.start(transport)
    ref.proxy().address.get()
    yield ref._actor_weakref()
    ref.stop()
