"""An embedded cluster's journal: replay without divergence, a task's trace from its
agent's registration to its end, and `explain` naming the filter of a decline."""

from __future__ import annotations

import pytest

from actors.cluster import LocalCluster
from actors.journal import JournalIndex, read_journal_file, replay
from actors.journal.explain import explain
from actors.journal.trace import trace
from tests.support.recorded_framework import SLEEPER, RecordedFramework


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("journal") / "run.msgpack")
    with LocalCluster(agents=2, journal=path) as cluster:
        handle = RecordedFramework.run(cluster, name="recorded", tasks=20)
        assert handle.join(60), "the recorded framework did not finish"
        scheduler = handle.scheduler
    return JournalIndex(read_journal_file(path)), scheduler


def test_the_recorded_run_did_what_the_journal_tests_need(recorded) -> None:
    _, scheduler = recorded
    assert scheduler.ended[SLEEPER] == "TASK_KILLED"
    assert sum(state == "TASK_FINISHED" for state in scheduler.ended.values()) == 19


@pytest.mark.parametrize("actor", ["master", "allocator", "agents"])
def test_replaying_each_actor_reports_no_divergence(recorded, actor) -> None:
    index, _ = recorded
    addresses = [a for a in index.actors() if a.startswith("agent.")] if actor == "agents" else [actor]
    assert addresses
    for address in addresses:
        result = replay(index, address)
        assert result.matched, "\n".join(result.divergence.report())
        assert result.inputs > 0


def test_trace_of_a_task_runs_from_its_agents_registration_to_its_end(recorded) -> None:
    index, _ = recorded
    text = "\n".join(trace(index, "task-3"))
    for step in ("RegisterAgent", "ResourcesAllocated", "ResourceOffers", "Accept", "RunTask", "TASK_FINISHED"):
        assert step in text, step
    assert text.index("RegisterAgent") < text.index("Accept") < text.index("TASK_FINISHED")


def test_explain_names_the_decline_filter_that_kept_the_framework_from_an_agent(recorded) -> None:
    index, scheduler = recorded
    text = "\n".join(explain(index, scheduler.framework_id))
    assert f"agent {scheduler.declined_agent}" in text
    assert "filtered until" in text and "filter from Decline" in text and "refuse_seconds=600" in text


def test_a_masters_operator_call_replays_as_its_own_principal_made_it(tmp_path) -> None:
    # the master takes operator calls only from its own principal: replay must know it
    from actors.operator.writes import master_sender
    from messages import WeightsUpdated

    path = str(tmp_path / "run.msgpack")
    with LocalCluster(agents=1, journal=path) as cluster:
        answer = master_sender(cluster.transport)(WeightsUpdated({"dev": 2.0}), 10).result(11)
        assert answer.body.ok, answer.body
    index = JournalIndex(read_journal_file(path))
    result = replay(index, "master")
    assert result.matched, "\n".join(result.divergence.report())
    assert result.inputs > 0
