"""A recorded run on the real broker — a master, two agents and a framework as separate
processes, 50 tasks, one declined offer, one killed task — read back from the journal
stream: every actor replays with no divergence, a changed handler is caught at the
right message, and trace and explain answer from the log."""

from __future__ import annotations

import json
import signal
import sys

import pytest

from actors.journal import JournalIndex, replay
from actors.journal.explain import explain
from actors.journal.trace import trace
from actors.master import Master
from messages import Decline
from rabbitmq.journal import read_stream
from tests.support.cluster_framework import ROOT, ProcessCluster
from tests.support.vhost import private_vhost

pytestmark = [pytest.mark.broker]
TASKS = 50


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, broker_url):
    work = tmp_path_factory.mktemp("journal-run")
    events = work / "events.jsonl"
    with private_vhost("mesobus-journal") as url:
        cluster = ProcessCluster(url, work, ping_interval=1.0, max_missed_pings=5)
        try:
            cluster.start_master()
            cluster.wait_ready()  # the master has bound the journal stream before anyone talks
            cluster.start_agent("h1", "cpus:2;mem:2048;disk:1000;ports:[31000-32000]")
            cluster.start_agent("h2", "cpus:2;mem:2048;disk:1000;ports:[31000-32000]")
            cluster.wait_ready()
            framework = cluster.spawn(
                "framework",
                [sys.executable, str(ROOT / "tests/support/recorded_framework.py"), url, str(TASKS), str(events)],
            )
            assert framework.popen.wait(120) == 0, cluster.logs()
            for proc in cluster.procs:  # a clean stop flushes each actor's handling order
                if proc.alive():
                    proc.popen.send_signal(signal.SIGTERM)
            for proc in cluster.procs:
                proc.popen.wait(30)
            index = JournalIndex(read_stream(url, idle=2.0))
        finally:
            cluster.stop()
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    return index, lines


def test_the_run_finished_its_tasks_declined_one_offer_and_killed_one_task(recorded) -> None:
    _, events = recorded
    final = {e["task_id"]: e["state"] for e in events if e["event"] == "status"}
    assert len(final) == TASKS
    assert final.pop("sleeper") == "TASK_KILLED"
    assert set(final.values()) == {"TASK_FINISHED"}
    assert [e["event"] for e in events].count("declined") == 1


def test_every_actor_replays_from_the_stream_with_no_divergence(recorded) -> None:
    index, _ = recorded
    actors = index.actors()
    assert "master" in actors and "allocator" in actors
    assert len([a for a in actors if a.startswith("agent.")]) == 2
    for address in actors:
        result = replay(index, address)
        assert result.matched, "\n".join([address] + result.divergence.report())
        assert result.inputs > 0


def test_a_changed_handler_is_caught_at_the_first_message_it_handles_differently(recorded) -> None:
    index, _ = recorded
    name = Master.handlers[Decline]
    original = getattr(Master, name)

    def doubled(self, msg: Decline) -> None:
        original(self, Decline(msg.framework_id, msg.offer_ids, type(msg.filters)(msg.filters.refuse_seconds * 2)))

    Altered = type("Altered", (Master,), {name: doubled})
    result = replay(index, "master", factory=lambda config, t, ctx: _rebuild(Altered, config, t, ctx))
    assert not result.matched
    decline = next(m for m in index.messages if m.type == "Decline")
    assert result.divergence.input.id == decline.id
    assert result.divergence.expected.body.refuse_seconds * 2 == result.divergence.actual.body.refuse_seconds


def _rebuild(cls, config, transport, context):
    actor = Master.from_journal(config, transport, context)
    actor.__class__ = cls
    return actor


def test_trace_shows_a_task_from_its_agents_registration_to_its_end(recorded) -> None:
    index, _ = recorded
    text = "\n".join(trace(index, "task-7"))
    order = ["RegisterAgent", "ResourceOffers", "Accept", "RunTask", "TASK_RUNNING", "TASK_FINISHED"]
    positions = [text.index(step) for step in order]
    assert positions == sorted(positions), text


def test_explain_names_the_filter_that_kept_the_framework_from_an_agent(recorded) -> None:
    index, events = recorded
    declined = next(e for e in events if e["event"] == "declined")
    framework_id = next(m.body.framework_id for m in index.messages if m.type == "FrameworkRegistered")
    text = "\n".join(explain(index, framework_id))
    assert f"agent {declined['agent_id']}" in text
    assert "filter from Decline" in text and "refuse_seconds=600" in text, text
