"""The master and the allocator replay exactly from a recorded journal (design.md §6),
and the allocator journals why it allocated as it did."""

from __future__ import annotations

import pytest

from actors.journal import FileJournal, JournalIndex, read_journal_file, replay
from actors.journal.explain import explain
from actors.master import MasterConfig
from messages import (
    Accept,
    AllocationExplained,
    CommandInfo,
    Decline,
    Filters,
    Operation,
    OperationType,
    Resources,
    StatusUpdate,
    Suppress,
    TaskInfo,
    TaskState,
    TaskStatus,
)
from tests.unit.master.fakes import Cluster


@pytest.fixture
def recorded(tmp_path, transport, clock):
    path = str(tmp_path / "journal.msgpack")
    journal = FileJournal(path)
    transport.taps.append(journal.tap)
    config = MasterConfig(hostname="m.test", explain_allocations=True)
    cluster = Cluster(transport, clock, config, real_allocator=True)
    try:
        fw = cluster.framework("f1")
        other = cluster.framework("f2")
        agent = cluster.agent("a1", "cpus:4;mem:4096")
        cluster.agent("a2", "cpus:2;mem:1024")
        offers = fw.offers()
        fw.send(Decline("f1", tuple(o.offer_id for o in offers[1:]), Filters(refuse_seconds=20)))
        task = TaskInfo("t1", "t1", offers[0].agent_id, Resources.parse("cpus:1;mem:128"), command=CommandInfo("true"))
        fw.send(Accept("f1", (offers[0].offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
        other.send(Suppress("f2"))
        cluster.advance(20)
        status = TaskStatus("t1", TaskState.TASK_FINISHED, agent_id=offers[0].agent_id, uuid="u1")
        cluster.agents[offers[0].agent_id].send(StatusUpdate("f1", "mesobus-command", offers[0].agent_id, status, 0, "u1"))
        agent.alive = False
        cluster.advance(95)  # the agent becomes unreachable
    finally:
        cluster.stop()
        journal.close()
    return JournalIndex(read_journal_file(path))


def test_master_replays_its_recorded_run_exactly(recorded):
    result = replay(recorded, "master")
    assert result.matched, "\n".join(result.divergence.report())
    assert result.inputs > 20 and result.outputs > 20
    assert result.state["metrics"]["master/tasks_finished"] == 1


def test_allocator_replays_its_recorded_run_exactly(recorded):
    result = replay(recorded, "allocator")
    assert result.matched, "\n".join(result.divergence.report())
    assert result.inputs > 20


def test_allocator_journals_why_a_framework_was_passed_over(recorded):
    runs = [r.body for r in recorded.journal_records(AllocationExplained)]
    assert runs and any(run.allocated for run in runs)
    reasons = {(s.framework_id, s.reason) for run in runs for s in run.skipped}
    assert ("f2", "suppressed") in reasons and ("f1", "filtered") in reasons
    text = "\n".join(explain(recorded, "f1"))
    assert "passed over, per agent" in text
