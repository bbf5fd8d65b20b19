"""The shared pieces of framework processes on a real broker: the state stream survives
a reconnect and is read to its end, one process per framework name leads."""

from __future__ import annotations

import threading

import pytest

from actors.frameworks.hosting import framework_lock, open_store
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def vhost_url(broker_url: str):
    with private_vhost("mesobus-hosting") as url:
        yield url


def test_state_written_by_one_store_is_read_by_the_next(vhost_url: str) -> None:
    first = open_store(vhost_url, "fw-a")
    first.put("app:/web", {"instances": 2})
    first.put("app:/db", {"instances": 1})
    first.delete("app:/db")
    first.close()
    second = open_store(vhost_url, "fw-a")
    assert second.load() == {"app:/web": {"instances": 2}}
    second.put("app:/web", {"instances": 3})
    assert second.load() == {"app:/web": {"instances": 3}}
    second.close()
    assert open_store(vhost_url, "fw-b").load() == {}  # another framework's state is apart


def test_snapshots_let_the_state_be_rebuilt(vhost_url: str, monkeypatch) -> None:
    import rabbitmq.state_store as module

    monkeypatch.setattr(module, "SNAPSHOT_EVERY", 5)
    store = open_store(vhost_url, "fw-snap")
    for i in range(12):
        store.put(f"k{i % 3}", i)
    store.close()
    assert open_store(vhost_url, "fw-snap").load() == {"k0": 9, "k1": 10, "k2": 11}


def test_one_process_per_framework_name_leads(vhost_url: str) -> None:
    stop = threading.Event()
    first = framework_lock(vhost_url, "services", "first")
    second = framework_lock(vhost_url, "services", "second", retry=0.1)
    other = framework_lock(vhost_url, "jobs", "other")
    assert first.acquire(stop)
    assert other.acquire(stop)  # another framework's lock is another queue
    reasons: list[str] = []
    waiter = threading.Thread(target=lambda: reasons.append(second.acquire(stop, on_standby=reasons.append)))
    waiter.start()
    waiter.join(1.0)
    assert waiter.is_alive() and reasons and "leads" in reasons[0]
    first.close()
    waiter.join(20)
    assert reasons[-1] is True
    second.close()
    other.close()
