"""A broker outage stops no clock: a whole cluster (master, allocator, two agents with
in-process executors running real tasks, a framework) runs in this process on a private
broker node, which is stopped for 2 x send_timeout and started again. Afterwards every
periodic activity goes on (allocation runs, the master's pings to each agent, the
framework's heartbeats and the master's answers, offers), the framework is still
registered under its id and every task still runs on its agent. Asserted on counters,
the master's state and the journal stream, never on a sleep."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone

import pytest

from actors import Scheduler
from actors.cluster import LocalCluster
from actors.journal.setup import JournalSetting
from actors.master import MasterConfig
from messages import TaskState
from rabbitmq import AmqpTransport
from rabbitmq.journal import read_stream
from tests.support.broker_node import BrokerNode, private_broker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.broker, pytest.mark.chaos]

SEND_TIMEOUT = 2.0
TASKS = 4


class Holder(Scheduler):
    """Launches TASKS long tasks and holds them; declines the rest briefly; counts what
    it gets from the master."""

    def __init__(self) -> None:
        super().__init__()
        self.to_launch = TASKS
        self.running: set[str] = set()
        self.ended: dict[str, str] = {}
        self.offers = 0
        self.master_heartbeats = 0

    def resource_offers(self, offers):
        self.offers += len(offers)
        for offer in offers:
            tasks = []
            while self.to_launch and len(tasks) < 2:
                self.to_launch -= 1
                tasks.append(self.task(offer, "sleep 600", cpus=0.1, mem=16))
            if tasks:
                self.launch(offer, tasks)
            else:
                self.decline(offer, refuse_seconds=0.5)

    def status_update(self, status):
        if status.state is TaskState.TASK_RUNNING:
            self.running.add(status.task_id)
        elif status.state.is_terminal:
            self.running.discard(status.task_id)
            self.ended[status.task_id] = status.state.value

    def _on_master_heartbeat(self, msg) -> None:  # the session's handler, counted
        self.master_heartbeats += 1
        super()._on_master_heartbeat(msg)


def wait_until(condition, timeout: float, what: str) -> None:
    print(f"{time.strftime('%X')} waiting for {what}", flush=True)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def journal_between(url: str, since: float, until: float) -> Counter:
    """(type, sender, target) of every message journaled that was sent between `since`
    and `until` (the cluster never falls quiet: read until past `until`)."""
    seen: Counter = Counter()
    start = datetime.fromtimestamp(since - 1, timezone.utc)
    deadline = time.monotonic() + 60
    for env in read_stream(url, start=start, follow=True, idle=0.5):
        if env.sent_at > until + 2 or time.monotonic() > deadline:
            break
        if since <= env.sent_at <= until:
            seen[(env.type, env.sender, env.target)] += 1
    return seen


def test_a_broker_outage_of_twice_send_timeout_stops_no_timer(private_broker: BrokerNode) -> None:
    url = private_broker.url + "?heartbeat=2&reconnect_max_delay=0.5&connection_timeout=2"
    transport = AmqpTransport(url, send_timeout=SEND_TIMEOUT)
    config = MasterConfig(
        hostname="outage", allocation_interval=0.5, ping_interval=1.0, max_missed_pings=300,
        framework_heartbeat_interval=1.0, max_missed_heartbeats=300,
    )
    cluster = LocalCluster(
        agents=2, transport=transport, master_config=config, agent_resources="cpus:1;mem:256",
        agent_settings={"executor_mode": "in-process", "ping_interval": 1.0, "max_missed_pings": 300},
        journal=JournalSetting(path=None),
    )
    cluster.start()
    handle = None
    try:
        handle = Holder.run(cluster, name="holder", heartbeat_interval=1.0)
        sched: Holder = handle.scheduler
        wait_until(lambda: len(sched.running) == TASKS, 60, f"{TASKS} tasks running")
        framework_id = handle.framework_id
        agents = sorted(a["id"] for a in cluster.state()["agents"])
        runs_before = cluster.allocator_ref.proxy().stats.get()["runs"]

        private_broker.stop()
        down_at = time.monotonic()
        wait_until(lambda: time.monotonic() - down_at >= 2 * SEND_TIMEOUT, 30, "the outage")
        private_broker.start()
        back_at = time.time()
        wait_until(lambda: transport.connected, 60, "the transport to reconnect")

        # Every periodic activity goes on after the outage.
        offers, heartbeats = sched.offers, sched.master_heartbeats
        allocator = cluster.allocator_ref.proxy()
        wait_until(lambda: allocator.stats.get()["runs"] >= runs_before + 20, 60, "allocation runs to resume")
        wait_until(lambda: sched.offers > offers, 60, "offers to the framework again")
        wait_until(lambda: sched.master_heartbeats >= heartbeats + 3, 60, "master heartbeats again")
        wait_until(lambda: sched.connected, 60, "the scheduler to be registered")

        seen = journal_between(private_broker.url, back_at, time.time())
        for agent_id in agents:
            assert seen[("PingAgent", "master", f"agent.{agent_id}")] >= 2, f"no pings to {agent_id}: {seen}"
            assert seen[("PongAgent", f"agent.{agent_id}", "master")] >= 2, f"no pongs from {agent_id}: {seen}"
        assert seen[("FrameworkHeartbeat", f"framework.{framework_id}", "master")] >= 2, seen
        assert seen[("AllocationTick", "allocator", "allocator")] >= 2, seen  # timers, journaled as inputs

        # The framework kept its id and registration; every task still runs where it ran.
        state = cluster.state()
        assert [f["id"] for f in state["frameworks"]] == [framework_id]
        running = [t for t in state["tasks"] if t["state"] == "TASK_RUNNING"]
        tasks = [(t["id"], t["state"], t["message"]) for t in state["tasks"] + state["completed_tasks"]]
        assert len(running) == TASKS, (tasks, sched.ended)
        assert {t["agent_id"] for t in running} <= set(agents)
        assert sched.running == {t["id"] for t in running} and sched.ended == {}
        assert handle.framework_id == framework_id
    finally:
        if handle is not None:
            handle.stop()  # the framework goes away: its tasks are killed
            try:
                wait_until(lambda: not cluster.state()["tasks"], 30, "the tasks to be killed")
            except Exception:  # noqa: BLE001  the cluster stops anyway
                pass
        cluster.stop()
        transport.close(timeout=5)  # given to the cluster: not closed by it
