"""Shared fixtures: a memory transport on a virtual clock, and the real broker's URL."""

from __future__ import annotations

import os
import socket

import pytest

from actors.runtime import MemoryTransport, VirtualClock, actor_deaths

# Masters started by tests (in this process or as children) serve HTTP on an ephemeral
# port, never on the shared 5050 that parallel test runs would fight over.
os.environ.setdefault("MESOBUS_HTTP", "127.0.0.1:0")

BROKER_URL = os.environ.get("MESOBUS_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture(autouse=True)
def no_earlier_actor_deaths():
    """A command run in this process reports the first actor death it saw: one left over
    by an earlier test (some stop actors on purpose) must not be taken for its own."""
    actor_deaths.reset()
    yield


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_700_000_000.0)


@pytest.fixture
def transport(clock: VirtualClock):
    t = MemoryTransport(clock)
    yield t
    t.close()


def broker_answers(host: str = "127.0.0.1", port: int = 5672) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def broker_url() -> str:
    """The shared broker. Tests that need it fail (not skip) when it is down: CI
    brings it up before running pytest, so a missing broker is a real failure."""
    if not broker_answers():
        pytest.fail("no RabbitMQ broker answers on 127.0.0.1:5672 (run `bash deploy/test.sh`)")
    return BROKER_URL
