"""An embedded cluster with the operator's HTTP app wired to it (memory transport, real
clock and processes), driven through Starlette's test client."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest
from starlette.testclient import TestClient

from actors import Scheduler
from actors.cluster import LocalCluster
from actors.operator import MasterSource, operator_app
from actors.operator.files import SandboxReader
from actors.operator.writes import master_sender


class Recorder(Scheduler):
    """Runs `commands` (one task each), then keeps declining offers (1 s filters) and
    remembers the cpus of each offer it saw."""

    def __init__(self, commands: list[str] = ()) -> None:
        super().__init__()
        self.commands = list(commands)
        self.offer_cpus: list[float] = []
        self.statuses: list = []
        self.lock = threading.Lock()

    def resource_offers(self, offers):
        for offer in offers:
            with self.lock:
                self.offer_cpus.append(offer.resources.scalar("cpus"))
            if self.commands:
                command = self.commands.pop(0)
                self.launch(offer, [self.task(offer, command, task_id=f"t{len(self.statuses)}-{len(self.commands)}",
                                              cpus=0.1, mem=32)])
            else:
                self.decline(offer, refuse_seconds=0.2)

    def status_update(self, status):
        self.statuses.append(status)


def wait_for(what: Callable[[], object], timeout: float = 30.0, message: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {message}")


@pytest.fixture
def cluster():
    with LocalCluster(agents=2, agent_resources="cpus:2;mem:1024;disk:1024;ports:[31000-32000]") as c:
        yield c


@pytest.fixture
def client(cluster):
    source = MasterSource("127.0.0.1:5050")
    source.lead(cluster.master_ref.proxy().snapshots.get(), master_sender(cluster.transport))
    source.files = SandboxReader(cluster.transport)
    with TestClient(operator_app(source)) as c:
        yield c
