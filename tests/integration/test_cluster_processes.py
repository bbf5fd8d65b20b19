"""A whole cluster as OS processes on the real broker: a master, two agents and a framework
(`tests/support/cluster_framework.py`), each started like an operator would, in a private
vhost. The framework writes every event as a JSON line; the tests follow that file.

Short timings: pings every 0.5 s, an agent is unreachable after 4 missed ones, batch
allocations every 0.2 s.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.cluster_framework import Events, ProcessCluster, latest_states, sandbox_stdouts
from tests.support.vhost import private_vhost

pytestmark = pytest.mark.broker

PING_INTERVAL = 0.5
MAX_MISSED_PINGS = 4
HOSTS = ("h1", "h2")


@pytest.fixture
def cluster(broker_url: str, tmp_path: Path):
    """Master and agents h1, h2 running; everything killed afterwards, strays included."""
    with private_vhost("mesobus-cluster") as url:
        c = ProcessCluster(url, tmp_path / "cluster", ping_interval=PING_INTERVAL, max_missed_pings=MAX_MISSED_PINGS)
        try:
            c.start_master()
            for host in HOSTS:
                c.start_agent(host)
            c.wait_ready()
            yield c
        finally:
            c.stop()


def events_of(cluster: ProcessCluster, path: Path) -> Events:
    return Events(path, describe=cluster.logs)


def framework_id(events: list[dict]) -> str:
    (registered,) = [e for e in events if e["event"] == "registered"]
    return registered["framework_id"]


def launched(events: list[dict]) -> dict[str, dict]:
    return {e["task_id"]: e for e in events if e["event"] == "launched"}


def all_in_state(task_ids, state: str):
    return lambda events: all(latest_states(events).get(t) == state for t in task_ids)


def done(events: list[dict]) -> dict | None:
    return next((e for e in events if e["event"] == "done"), None)


def test_a_hundred_shell_tasks_finish_and_each_ones_output_is_in_its_sandbox_on_its_agent(cluster, tmp_path):
    events = events_of(cluster, tmp_path / "events.jsonl")
    cluster.start_framework("framework", events.path, "--tasks", "100", "--per-agent", "50", "--command", "sh -c 'echo task-{n}'")

    end = events.wait(done, 60, "all 100 tasks to end")

    assert end["states"] == {f"task-{n}": "TASK_FINISHED" for n in range(100)}
    everything = events.read()
    fid = framework_id(everything)
    runs = launched(everything)
    assert set(runs) == set(end["states"])
    assert {run["hostname"] for run in runs.values()} == set(HOSTS), "both agents should have run tasks"
    for task_id, run in runs.items():
        (stdout,) = sandbox_stdouts(cluster.agent_dirs[run["hostname"]], fid, task_id)
        assert stdout.read_text() == f"{task_id}\n"
        assert (stdout.parent.parent.parent.parent / "latest" / "tasks" / task_id / "stdout").exists()
        others = [h for h in HOSTS if h != run["hostname"]]
        assert not any(sandbox_stdouts(cluster.agent_dirs[h], fid, task_id) for h in others)


@pytest.mark.chaos
def test_an_agent_killed_mid_run_has_its_tasks_reported_lost_within_the_ping_window(cluster, tmp_path):
    events = events_of(cluster, tmp_path / "events.jsonl")
    cluster.start_framework("framework", events.path, "--tasks", "6", "--per-agent", "3", "--command", "sleep 4")
    ids = [f"task-{n}" for n in range(6)]
    events.wait(all_in_state(ids, "TASK_RUNNING"), 20, "all 6 tasks to run")
    runs = launched(events.read())
    victim_tasks = sorted(t for t, run in runs.items() if run["hostname"] == "h1")
    survivors = sorted(set(ids) - set(victim_tasks))
    assert len(victim_tasks) == len(survivors) == 3
    victim_agent = runs[victim_tasks[0]]["agent_id"]

    # Only the agent process: its executor (own session) keeps running its tasks, as a
    # Mesos executor outlives its agent. The master can only tell from the silence.
    killed_at = time.time()
    cluster.kill(cluster.agents["h1"])
    events.wait(all_in_state(victim_tasks, "TASK_LOST"), 15, f"TASK_LOST for {victim_tasks} after the agent was killed")
    updates = [e for e in events.statuses() if e["task_id"] in victim_tasks and e["state"] == "TASK_LOST"]
    took = max(e["t"] for e in updates) - killed_at
    window = PING_INTERVAL * MAX_MISSED_PINGS
    # The first unanswered ping goes out up to one interval after the kill; then
    # max_missed_pings intervals pass. One more second for messages and scheduling.
    assert window - PING_INTERVAL <= took <= window + PING_INTERVAL + 1.0, f"TASK_LOST after {took:.2f}s"
    assert all(e["reason"] == "REASON_AGENT_REMOVED" and e["source"] == "SOURCE_MASTER" for e in updates), updates
    events.wait(lambda ev: any(e["event"] == "agent_lost" and e["agent_id"] == victim_agent for e in ev),
                5, "agent_lost for the killed agent")

    end = events.wait(done, 15, "the surviving tasks to finish")
    assert end["states"] == {**{t: "TASK_LOST" for t in victim_tasks}, **{t: "TASK_FINISHED" for t in survivors}}
    print(f"\nTASK_LOST {took:.2f}s after SIGKILL (window {window:.1f}s)")


@pytest.mark.chaos
def test_a_framework_killed_and_restarted_within_its_failover_timeout_keeps_its_tasks(cluster, tmp_path):
    id_file = tmp_path / "framework.id"
    args = ["--tasks", "4", "--per-agent", "2", "--command", "sleep 4", "--failover-timeout", "30",
            "--id-file", str(id_file)]
    ids = [f"task-{n}" for n in range(4)]
    first = events_of(cluster, tmp_path / "first.jsonl")
    process = cluster.start_framework("framework-1", first.path, *args)
    first.wait(all_in_state(ids, "TASK_RUNNING"), 20, "all 4 tasks to run")
    fid = framework_id(first.read())
    assert id_file.read_text().strip() == fid

    cluster.kill(process)
    second = events_of(cluster, tmp_path / "second.jsonl")
    restarted = cluster.start_framework("framework-2", second.path, *args, "--resume")

    registered = second.wait(lambda ev: [e["framework_id"] for e in ev if e["event"] == "registered"],
                             15, "the restarted framework to register")
    assert registered == [fid]
    answers = second.wait(
        lambda ev: (found := {
            e["task_id"]: e["state"] for e in ev
            if e["event"] == "status" and e["reason"] == "REASON_RECONCILIATION" and not e["uuid"]
        }).keys() >= set(ids) and found,
        10, "reconciliation answers for every task",
    )
    assert answers == {t: "TASK_RUNNING" for t in ids}  # the master kept them through the failover
    end = second.wait(done, 15, "the tasks to finish after the failover")
    assert end["states"] == {t: "TASK_FINISHED" for t in ids}
    states_seen = {e["state"] for e in first.statuses() + second.statuses()}
    assert not states_seen & {"TASK_KILLED", "TASK_KILLING", "TASK_LOST", "TASK_FAILED"}, states_seen
    assert restarted.popen.wait(15) == 0, cluster.logs()
    assert not id_file.exists()  # the restarted framework tore itself down when done
