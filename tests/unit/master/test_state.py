"""The master's read-only state and metrics, its config checks, and robustness."""

from __future__ import annotations

import json

import pytest

from actors.master import MasterConfig, start_master
from messages import (
    Accept,
    CommandInfo,
    Envelope,
    FrameworkRegistered,
    MasterHeartbeat,
    MasterInfo,
    Operation,
    OperationType,
    PingAgent,
    Resources,
    TaskInfo,
    decode,
)
from messages.addresses import agents_group, frameworks_group


def test_state_is_plain_data_with_mesos_metric_names(cluster):
    fw = cluster.framework("f1", roles=("web",))
    cluster.agent("a1", "cpus:4;mem:4096;disk:100")
    offer = cluster.offer("f1", "a1", "cpus:4;mem:4096;disk:100", role="web")
    task = TaskInfo("t1", "t1", "a1", Resources.parse("cpus:1;mem:1024"), command=CommandInfo("true"))
    fw.send(Accept("f1", (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    state = cluster.state()
    json.dumps(state)  # plain data all the way down
    assert state["master"]["id"] == "m1" and state["master"]["hostname"] == "master.test"
    assert state["frameworks"][0]["used_resources"] == "cpus:1;mem:1024"
    assert state["agents"][0]["used_resources"] == "cpus:1;mem:1024"
    assert state["tasks_by_state"] == {"TASK_STAGING": 1}
    m = state["metrics"]
    assert m["master/tasks_staging"] == 1
    assert m["master/frameworks_active"] == 1 and m["master/slaves_active"] == 1
    assert m["master/outstanding_offers"] == 0
    assert (m["master/cpus_total"], m["master/cpus_used"], m["master/cpus_percent"]) == (4, 1, 0.25)
    assert (m["master/mem_total"], m["master/mem_used"]) == (4096, 1024)
    assert m["master/disk_total"] == 100
    assert m["master/messages_accept"] == 1


def test_uptime_follows_the_clock(cluster):
    cluster.advance(30)
    assert cluster.state()["metrics"]["master/uptime_secs"] == 30


@pytest.mark.parametrize(
    "field, value",
    [
        ("ping_interval", 0),
        ("ping_interval", float("nan")),
        ("max_missed_pings", 0),
        ("max_missed_pings", 2.5),
        ("framework_heartbeat_interval", -1),
        ("offer_timeout", 0),
        ("allocation_interval", float("inf")),
        ("address", ""),
        ("max_completed_tasks_per_framework", 0),
        ("epoch", -1),
    ],
)
def test_config_refuses_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"MasterConfig.{field}"):
        MasterConfig(**{field: value})


def test_config_defaults_are_those_of_mesos():
    c = MasterConfig()
    assert (c.ping_interval, c.max_missed_pings) == (15.0, 5)
    assert (c.framework_heartbeat_interval, c.max_missed_heartbeats, c.offer_timeout) == (5.0, 3, None)
    assert c.allocation_interval == 1.0
    assert c.max_completed_tasks_per_framework == 1000


def test_malformed_message_is_dead_lettered_and_the_master_keeps_working(cluster, transport):
    transport.publish_raw("master", b"\x00garbage")
    cluster.settle()
    assert any(d.address == "master" for d in transport.dead_letters)
    fw = cluster.framework("f1")
    assert fw.last(FrameworkRegistered).framework_id == "f1"


def test_message_the_master_does_not_handle_is_dead_lettered(cluster, transport):
    wrong_way = FrameworkRegistered("f1", MasterInfo("someone"))  # master -> scheduler only
    transport.publish(Envelope(id="x", sender="framework.f1", target="master", body=wrong_way))
    cluster.settle()
    assert "no handler" in transport.dead_letters[-1].reason


def test_a_starting_master_calls_every_agent_and_scheduler_to_register_again(transport):
    got: list[Envelope] = []
    for address, group in (("agent.a1", agents_group("master")), ("framework.f1", frameworks_group("master"))):
        transport.subscribe(address, lambda d: (got.append(decode(d.body)), transport.ack(d)), groups=(group,))
    master, allocator = start_master(transport, MasterConfig(master_id="m2"))
    try:
        transport.settle()
        assert sorted((e.target, e.body) for e in got) == [
            ("group.master.agents", PingAgent(connected=False)),
            ("group.master.frameworks", MasterHeartbeat("m2", known=False)),
        ]
    finally:
        master.stop()
        allocator.stop()
