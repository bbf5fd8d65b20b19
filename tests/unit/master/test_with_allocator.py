"""The master and the real allocator actor together (started by `start_master`)."""

from __future__ import annotations

import pytest

from messages import (
    Accept,
    CommandInfo,
    Decline,
    Filters,
    Operation,
    OperationType,
    ResourceOffers,
    Resources,
    StatusUpdate,
    TaskInfo,
    TaskState,
    TaskStatus,
)
from tests.unit.master.fakes import Cluster


@pytest.fixture
def real(transport, clock):
    c = Cluster(transport, clock, real_allocator=True)
    yield c
    c.stop()


def test_registered_framework_is_offered_a_registered_agent(real):
    fw = real.framework("f1")
    real.agent("a1", "cpus:4;mem:4096")
    offers = fw.offers()
    assert [(o.agent_id, str(o.resources)) for o in offers] == [("a1", "cpus:4;mem:4096")]


def test_declined_offer_comes_back_after_its_filter(real):
    fw = real.framework("f1")
    real.agent("a1", "cpus:4;mem:4096")
    (offer,) = fw.offers()
    fw.send(Decline("f1", (offer.offer_id,), Filters(refuse_seconds=10)))
    real.advance(9, step=1)
    assert len(fw.offers()) == 1
    real.advance(2, step=1)
    assert len(fw.offers()) == 2


def test_launched_task_resources_are_offered_again_when_it_finishes(real):
    fw = real.framework("f1")
    agent = real.agent("a1", "cpus:4;mem:4096")
    (offer,) = fw.offers()
    task = TaskInfo("t1", "t1", "a1", Resources.parse("cpus:4;mem:4096"), command=CommandInfo("true"))
    fw.send(Accept("f1", (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    real.advance(2, step=1)
    assert len(fw.got(ResourceOffers)) == 1  # everything is in use
    status = TaskStatus("t1", TaskState.TASK_FINISHED, agent_id="a1", uuid="u1")
    agent.send(StatusUpdate("f1", "mesobus-command", "a1", status, 0.0, "u1"))
    assert str(fw.offers()[-1].resources) == "cpus:4;mem:4096"
    metrics = real.state()["metrics"]
    assert metrics["master/tasks_finished"] == 1 and metrics["master/cpus_used"] == 0
