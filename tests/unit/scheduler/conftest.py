"""A fake master for scheduler tests: records what a scheduler sends, answers registration
and heartbeats when told to; and a scheduler that records its callbacks."""

from __future__ import annotations

import itertools

import pytest

from actors.runtime import Actor, ActorContext, IdSource, on
from actors.scheduler import Scheduler
from messages import (
    Accept,
    DeactivateFramework,
    Decline,
    Envelope,
    FrameworkHeartbeat,
    FrameworkRegistered,
    FrameworkReregistered,
    FrameworkToExecutor,
    KillTask,
    MasterHeartbeat,
    MasterInfo,
    ReconcileTasks,
    RegisterFramework,
    ReregisterFramework,
    Revive,
    StatusUpdateAcknowledgement,
    Suppress,
    UnregisterFramework,
)

TO_MASTER = (
    Accept, DeactivateFramework, Decline, FrameworkHeartbeat, FrameworkToExecutor, KillTask,
    ReconcileTasks, RegisterFramework, ReregisterFramework, Revive, StatusUpdateAcknowledgement,
    Suppress, UnregisterFramework,
)


class FakeMaster(Actor):
    """Records every message; answers registrations and heartbeats while `answering`."""

    def __init__(self, transport) -> None:
        super().__init__("master", transport)
        self.got: list = []
        self.answering = True
        self.master_id = "m1"
        self.known = True

    @on(*TO_MASTER)
    def record(self, msg) -> None:
        self.got.append(msg)
        if not self.answering:
            return
        info = MasterInfo(self.master_id, "localhost")
        if isinstance(msg, RegisterFramework):
            self.reply(FrameworkRegistered(msg.framework.framework_id, info))
        elif isinstance(msg, ReregisterFramework):
            self.reply(FrameworkReregistered(msg.framework.framework_id, info))
        elif isinstance(msg, FrameworkHeartbeat):
            self.reply(MasterHeartbeat(self.master_id, self.known))

    def of(self, kind: type) -> list:
        return [m for m in self.got if isinstance(m, kind)]


class Recording(Scheduler):
    """Records each callback as (name, args)."""

    def __init__(self, fail_status: bool = False) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        self.fail_status = fail_status

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def registered(self, framework_id, master_info):
        self.calls.append(("registered", framework_id, master_info))

    def reregistered(self, master_info):
        self.calls.append(("reregistered", master_info))

    def disconnected(self):
        self.calls.append(("disconnected",))

    def resource_offers(self, offers):
        self.calls.append(("resource_offers", offers))

    def offer_rescinded(self, offer_id):
        self.calls.append(("offer_rescinded", offer_id))

    def status_update(self, status):
        self.calls.append(("status_update", status))
        if self.fail_status:
            raise RuntimeError("callback failed")

    def framework_message(self, executor_id, agent_id, data):
        self.calls.append(("framework_message", executor_id, agent_id, data))

    def agent_lost(self, agent_id):
        self.calls.append(("agent_lost", agent_id))

    def executor_lost(self, executor_id, agent_id, status):
        self.calls.append(("executor_lost", executor_id, agent_id, status))

    def error(self, message):
        self.calls.append(("error", message))


_ids = itertools.count()


def tell(transport, target: str, body, sender: str = "master") -> None:
    """Publish one message as if `sender` sent it."""
    transport.publish(Envelope(id=f"test-{next(_ids)}", sender=sender, target=target, body=body))
    transport.settle()


@pytest.fixture
def master(transport):
    """The FakeMaster instance itself (its lists are read after transport.settle())."""
    holder = {}

    class Captured(FakeMaster):
        def __init__(self, t):
            super().__init__(t)
            holder["self"] = self

    ref = Captured.start(transport)
    yield holder["self"]
    ref.stop()


@pytest.fixture
def start(transport, clock):
    """start(cls=Recording, **run_options) -> (handle, scheduler), registered and settled."""
    handles = []

    def _start(cls=Recording, **options):
        options.setdefault("context", ActorContext(clock=clock, ids=IdSource("fw"), seed=1))
        options.setdefault("user", "tester")
        handle = cls.run(transport, **options)
        handles.append(handle)
        transport.settle()
        return handle, handle.scheduler

    yield _start
    for handle in handles:
        if handle.ref.is_alive():
            handle.ref.stop()
