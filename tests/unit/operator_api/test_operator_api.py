"""The operator's HTTP API against an embedded cluster: Mesos' shapes, writes that change
what frameworks are offered, sandbox files confined to sandboxes, Prometheus output."""

from __future__ import annotations

import base64
import json
import time
from contextlib import contextmanager

from prometheus_client.parser import text_string_to_metric_families

from actors.operator.files import sandbox_path
from tests.unit.operator_api.conftest import Recorder, wait_for

JSON = {"Content-Type": "application/json"}
RESOURCE_KEYS = {"cpus", "mem", "disk", "gpus"}


def _call(client, body: dict):
    return client.post("/api/v1", content=json.dumps(body), headers=JSON)


def _running_task(client, cluster, command="echo hello-sandbox; sleep 30"):
    handle = Recorder.run(cluster, name="rec", roles=("dev",), commands=[command])
    wait_for(lambda: any(s.state.value == "TASK_RUNNING" for s in handle.scheduler.statuses), message="running")
    wait_for(lambda: client.get("/master/tasks").json()["tasks"], message="task in the snapshot")
    return handle


def test_state_has_mesos_fields_with_flattened_resources_and_slave_ids(client, cluster):
    handle = _running_task(client, cluster)
    try:
        state = wait_for(lambda: (s := client.get("/master/state").json())["frameworks"] and
                         s["frameworks"][0]["tasks"] and s["frameworks"][0]["tasks"][0]["state"] == "TASK_RUNNING" and s)
        for key in ("version", "id", "pid", "hostname", "start_time", "elected_time", "activated_slaves",
                    "leader", "leader_info", "flags", "slaves", "frameworks", "completed_frameworks"):
            assert key in state, key
        assert state["activated_slaves"] == 2 and len(state["slaves"]) == 2
        slave = state["slaves"][0]
        assert RESOURCE_KEYS <= set(slave["resources"]) and slave["resources"]["ports"] == "[31000-32000]"
        assert slave["resources"]["cpus"] == 2.0 and isinstance(slave["reserved_resources"], dict)
        framework = state["frameworks"][0]
        assert (framework["name"], framework["roles"], framework["active"]) == ("rec", ["dev"], True)
        assert framework["TASK_RUNNING"] == 1 and framework["used_resources"]["cpus"] == 0.1
        task = framework["tasks"][0]
        assert set(task) >= {"id", "name", "framework_id", "executor_id", "slave_id", "state", "resources",
                             "statuses", "role"}
        assert task["slave_id"] in {s["id"] for s in state["slaves"]} and task["role"] == "dev"
        assert [s["state"] for s in task["statuses"]][-1] == "TASK_RUNNING"
        assert client.get("/state").json()["id"] == state["id"]
        summary = client.get("/master/state-summary").json()
        assert summary["frameworks"][0]["slave_ids"] == [task["slave_id"]]
        assert sum(s["TASK_RUNNING"] for s in summary["slaves"]) == 1
    finally:
        handle.stop()


def test_tasks_endpoint_filters_orders_and_pages(client, cluster):
    handle = Recorder.run(cluster, name="rec", commands=["true", "true", "true"])
    try:
        wait_for(lambda: len(client.get("/master/tasks").json()["tasks"]) == 3, message="three tasks")
        everything = client.get("/master/tasks?order=asc").json()["tasks"]
        one = client.get("/master/tasks", params={"limit": 1, "offset": 1, "order": "asc"}).json()["tasks"]
        assert one == everything[1:2]
        by_id = client.get("/master/tasks", params={"task_id": everything[0]["id"]}).json()["tasks"]
        assert [t["id"] for t in by_id] == [everything[0]["id"]]
        assert client.get("/master/tasks?framework_id=nope").json() == {"tasks": []}
        assert client.get("/master/tasks?limit=x").status_code == 400
        assert client.get("/master/tasks?order=sideways").status_code == 400
    finally:
        handle.stop()


def test_health_version_flags_redirect_and_jsonp(client):
    health = client.get("/master/health")
    assert (health.status_code, health.content) == (200, b"")
    assert client.get("/health").status_code == 200
    assert "version" in client.get("/version").json()
    assert client.get("/master/flags").json()["flags"]["allocation_interval"] == "1.0"
    redirect = client.get("/master/redirect", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (307, "//127.0.0.1:5050")
    jsonp = client.get("/master/slaves?jsonp=show")
    assert jsonp.headers["content-type"].startswith("text/javascript") and jsonp.text.startswith("show({")
    assert client.get("/master/slaves?jsonp=alert(1)").status_code == 400


def test_metrics_snapshot_and_prometheus_agree(client):
    snapshot = client.get("/metrics/snapshot").json()
    assert snapshot["master/elected"] == 1.0 and snapshot["master/slaves_active"] == 2.0
    assert snapshot["master/cpus_total"] == 4.0 and "master/tasks_running" in snapshot
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["mesobus_master_slaves_active"].samples[0].value == 2.0
    assert families["mesobus_master_cpus_total"].samples[0].value == 4.0


def test_v1_reads_have_the_v1_shapes(client, cluster):
    handle = _running_task(client, cluster)
    try:
        agents = _call(client, {"type": "GET_AGENTS"}).json()
        assert agents["type"] == "GET_AGENTS"
        agent = agents["get_agents"]["agents"][0]
        assert set(agent["agent_info"]["id"]) == {"value"} and agent["active"] is True
        assert {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}} in agent["total_resources"]
        tasks = _call(client, {"type": "GET_TASKS"}).json()["get_tasks"]["tasks"]
        assert tasks[0]["agent_id"]["value"] and tasks[0]["framework_id"]["value"] == handle.framework_id
        frameworks = _call(client, {"type": "GET_FRAMEWORKS"}).json()["get_frameworks"]["frameworks"]
        assert frameworks[0]["framework_info"]["id"] == {"value": handle.framework_id}
        state = _call(client, {"type": "GET_STATE"}).json()["get_state"]
        assert set(state) == {"get_tasks", "get_executors", "get_frameworks", "get_agents"}
        executors = _call(client, {"type": "GET_EXECUTORS"}).json()["get_executors"]
        assert executors == state["get_executors"] and executors["orphan_executors"] == []
        command = executors["executors"][0]  # the task's command executor
        assert command["agent_id"] == tasks[0]["agent_id"]
        assert command["executor_info"]["framework_id"] == {"value": handle.framework_id}
        assert set(command["executor_info"]) == {"executor_id", "framework_id", "resources"}
        assert _call(client, {"type": "GET_HEALTH"}).json() == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
        metrics = _call(client, {"type": "GET_METRICS"}).json()["get_metrics"]["metrics"]
        assert {"name": "master/elected", "value": 1.0} in metrics
    finally:
        handle.stop()


def test_bad_calls_are_400_with_a_reason(client):
    assert _call(client, {"type": "NOPE"}).status_code == 400
    assert client.post("/api/v1", content=b"{", headers=JSON).status_code == 400
    bad_weight = _call(client, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "a", "weight": 0}]}})
    assert bad_weight.status_code == 400 and "positive" in bad_weight.text
    bad_quota = _call(client, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": "a", "limits": {"ports": {"value": 1}}}]}})
    assert bad_quota.status_code == 400 and "scalar" in bad_quota.text
    unknown = _call(client, {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "nope"}}})
    assert unknown.status_code == 400 and "no framework" in unknown.text
    assert _call(client, {"type": "DRAIN_AGENT", "drain_agent": {}}).status_code == 400
    reserve = {"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": {"value": "a"}, "resources": []}}
    assert _call(client, reserve).status_code == 400


def test_quota_limits_what_the_role_is_offered_and_weights_are_kept(client, cluster):
    handle = Recorder.run(cluster, name="rec", roles=("dev",))
    rec = handle.scheduler
    try:
        wait_for(lambda: rec.offer_cpus and max(rec.offer_cpus) == 2.0, message="whole-agent offers")
        update = {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": "dev", "limits": {"cpus": {"value": 0.5}}}]}}
        assert _call(client, update).status_code == 200
        with rec.lock:
            rec.offer_cpus.clear()
        wait_for(lambda: len(rec.offer_cpus) >= 3, message="offers after the quota")
        assert max(rec.offer_cpus) <= 0.5
        quota = _call(client, {"type": "GET_QUOTA"}).json()["get_quota"]["status"]
        assert quota["configs"] == [{"role": "dev", "limits": {"cpus": {"value": 0.5}}}]
        assert client.put("/master/weights", content=json.dumps([{"role": "dev", "weight": 3}])).status_code == 200
        assert client.get("/master/weights").json() == [{"role": "dev", "weight": 3.0}]
        roles = {r["name"]: r for r in client.get("/master/roles").json()["roles"]}
        assert roles["dev"]["weight"] == 3.0 and roles["dev"]["frameworks"] == [handle.framework_id]
    finally:
        handle.stop()


def test_teardown_removes_the_framework_and_kills_its_task(client, cluster):
    handle = _running_task(client, cluster)
    answer = _call(client, {"type": "TEARDOWN", "teardown": {"framework_id": {"value": handle.framework_id}}})
    assert answer.status_code == 200
    state = wait_for(lambda: (s := client.get("/master/state").json()) and not s["frameworks"] and s)
    assert [f["id"] for f in state["completed_frameworks"]] == [handle.framework_id]
    # its ended task stays listed under it, as in Mesos (`mesobus ps -a` shows it)
    done = wait_for(lambda: client.get("/master/state").json()["completed_frameworks"][0]["completed_tasks"])
    assert [(t["framework_id"], t["state"]) for t in done] == [(handle.framework_id, "TASK_KILLED")]
    handle.stop()


def test_sandbox_files_are_read_through_the_agent_and_confined(client, cluster):
    handle = _running_task(client, cluster)
    try:
        task = client.get("/master/tasks").json()["tasks"][0]
        box = sandbox_path(task["slave_id"], task["framework_id"], "mesobus-command", task["id"])
        names = wait_for(lambda: {e["path"].rpartition("/")[2] for e in client.get(f"/files/browse?path={box}").json()})
        assert {"stdout", "stderr"} <= names
        stdout = f"{box}/stdout"
        wait_for(lambda: "hello-sandbox" in client.get("/files/read", params={"path": stdout, "offset": 0}).json()["data"])
        assert client.get("/files/read", params={"path": stdout}).json() == {"offset": len("hello-sandbox\n"), "data": ""}
        page = client.get("/files/read", params={"path": stdout, "offset": 6, "length": 3}).json()
        assert page == {"offset": 6, "data": "san"}
        assert client.get("/files/download", params={"path": stdout}).content == b"hello-sandbox\n"
        v1 = _call(client, {"type": "READ_FILE", "read_file": {"path": stdout, "offset": 0, "length": 5}}).json()
        assert base64.b64decode(v1["read_file"]["data"]) == b"hello"
        agent = task["slave_id"]
        for bad in (f"/agents/{agent}/frameworks/../../../../etc/passwd", f"/agents/{agent}/etc/passwd", "/etc/passwd",
                    f"/agents/{agent}/frameworks/{task['framework_id']}/nothing"):
            refused = client.get("/files/read", params={"path": bad, "offset": 0})
            assert refused.status_code in (400, 404), bad
    finally:
        handle.stop()


class Decliner(Recorder):
    def resource_offers(self, offers):
        for offer in offers:
            self.offer_cpus.append(offer.resources.scalar("cpus"))
            self.decline(offer, refuse_seconds=60)


def test_allocation_reasons_say_why_a_framework_gets_no_offers():
    from starlette.testclient import TestClient

    from actors.cluster import LocalCluster
    from actors.master import MasterConfig
    from actors.operator import MasterSource, operator_app
    from actors.operator.explain import latest_explanation

    config = MasterConfig(hostname="test", explain_allocations=True, allocation_interval=0.1)
    with LocalCluster(agents=2, master_config=config) as cluster:
        source = MasterSource("127.0.0.1:5050")
        source.lead(cluster.master_ref.proxy().snapshots.get())
        source.explain = lambda: latest_explanation(cluster.allocator_ref)
        client = TestClient(operator_app(source))
        handle = Decliner.run(cluster, name="picky")
        try:
            wait_for(lambda: len(handle.scheduler.offer_cpus) >= 2, message="both agents offered once")
            why = wait_for(lambda: (r := client.get("/mesobus/allocation", params={"framework_id": handle.framework_id}))
                           .status_code == 200 and r.json()["reasons"].get("filtered") == 2 and r.json())
            assert {s["reason"] for s in why["skips"]} == {"filtered"} and all(s["until"] for s in why["skips"])
            assert client.get("/mesobus/allocation").status_code == 400
        finally:
            handle.stop()


def test_small_responses_are_not_held_back_by_nagle():
    # uvicorn writes a response's head and body apart: without TCP_NODELAY the body waited
    # for the client's delayed ACK, ~40 ms for every small answer (/health, /master/tasks).
    import statistics
    import time

    import httpx
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from actors.http import HttpServer

    server = HttpServer(Starlette(routes=[Route("/x", lambda r: Response(b"x" * 15000))]), "127.0.0.1", 0).start()
    try:
        with httpx.Client() as http:
            times = []
            for _ in range(15):
                started = time.perf_counter()
                http.get(f"{server.url}/x").raise_for_status()
                times.append(time.perf_counter() - started)
        assert statistics.median(times) < 0.02
    finally:
        server.stop()


@contextmanager
def _subscribed(cluster):
    """A SUBSCRIBE stream from a leading operator API over `cluster`: (the source, the
    response, its records one by one). Frameworks started through `started` are stopped."""
    import httpx

    from actors.http import HttpServer
    from actors.operator import MasterSource, operator_app
    from actors.operator.writes import master_sender

    source = MasterSource("127.0.0.1:0")
    source.lead(cluster.master_ref.proxy().snapshots.get(), master_sender(cluster.transport))
    server = HttpServer(operator_app(source), "127.0.0.1", 0).start()
    started: list = []
    try:
        with httpx.stream("POST", f"{server.url}/api/v1", content=b'{"type": "SUBSCRIBE"}', headers=JSON,
                          timeout=30) as stream:
            yield source, stream, _records(stream.iter_bytes()), started
            source.stand_down()  # ends the stream
    finally:
        for handle in started:
            handle.stop()
        server.stop()


def test_subscribe_streams_the_state_then_task_events(cluster):
    with _subscribed(cluster) as (source, stream, events, started):
        assert stream.headers["content-type"].startswith("application/recordio")
        first = next(events)
        assert first["type"] == "SUBSCRIBED" and len(first["subscribed"]["get_state"]["get_agents"]["agents"]) == 2
        assert next(events)["type"] == "HEARTBEAT"
        started.append(Recorder.run(cluster, name="watched", commands=["sleep 30"]))
        seen = []
        for event in events:
            seen.append(event["type"])
            state = (event.get("task_updated") or event.get("task_added", {}).get("task") or {}).get("state")
            if event["type"] in ("TASK_ADDED", "TASK_UPDATED") and state == "TASK_RUNNING":
                break
        assert seen.index("FRAMEWORK_ADDED") < seen.index("TASK_ADDED") < len(seen)


def test_subscribe_streams_every_transition_of_a_task_faster_than_a_picture(cluster):
    """A task that starts and finishes within the master's picture interval (about 1 s):
    each of its states reaches the stream, in order, after its framework and agent."""
    with _subscribed(cluster) as (source, stream, events, started):
        assert next(events)["type"] == "SUBSCRIBED"
        started.append(Recorder.run(cluster, name="quick", commands=["true"]))
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + 20  # a heartbeat (15 s) wakes the loop at the latest
        for event in events:
            if time.monotonic() > deadline:
                break
            if event["type"] == "TASK_ADDED":
                seen.append(("TASK_ADDED", event["task_added"]["task"]["state"]))
            elif event["type"] == "TASK_UPDATED":
                seen.append(("TASK_UPDATED", event["task_updated"]["state"]))
                if event["task_updated"]["state"] == "TASK_FINISHED":
                    break
            elif event["type"] in ("FRAMEWORK_ADDED", "AGENT_ADDED"):
                assert not seen, f"{event['type']} after the task's events: {seen}"
        assert seen == [("TASK_ADDED", "TASK_STAGING"), ("TASK_UPDATED", "TASK_STARTING"),
                        ("TASK_UPDATED", "TASK_RUNNING"), ("TASK_UPDATED", "TASK_FINISHED")], seen


def _records(chunks):
    """RecordIO: '<length>\\n<JSON>' records, decoded one by one."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            length, _, rest = buffer.partition(b"\n")
            size = int(length)
            if len(rest) < size:
                break
            yield json.loads(rest[:size])
            buffer = rest[size:]


class OfferLog(Recorder):
    """Declines everything briefly and remembers which agent each offer came from."""

    def __init__(self) -> None:
        super().__init__()
        self.agents_offered: list[str] = []

    def resource_offers(self, offers):
        for offer in offers:
            with self.lock:
                self.agents_offered.append(offer.agent_id)
            self.decline(offer, refuse_seconds=0.1)


def test_deactivated_agents_are_not_offered_and_drain_kills_their_tasks(client, cluster):
    handle = OfferLog.run(cluster, name="watcher")
    log = handle.scheduler
    try:
        wait_for(lambda: len(set(log.agents_offered)) == 2, message="offers from both agents")
        agent = log.agents_offered[0]
        assert _call(client, {"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": agent}}}).status_code == 200
        for _ in range(2):  # the first round may hold an offer sent before the deactivation
            with log.lock:
                log.agents_offered.clear()
            wait_for(lambda: len(log.agents_offered) >= 3, message="offers after the deactivation")
        assert agent not in log.agents_offered
        assert [s["deactivated"] for s in client.get("/master/slaves").json()["slaves"] if s["id"] == agent] == [True]
        assert _call(client, {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": agent}}}).status_code == 200
        wait_for(lambda: agent in log.agents_offered[-20:], message="offers from the reactivated agent")
        missing = _call(client, {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": "nope"}}})
        assert missing.status_code == 400 and "no agent" in missing.text
    finally:
        handle.stop()
    runner = _running_task(client, cluster)
    try:
        task = client.get("/master/tasks").json()["tasks"][0]
        assert _call(client, {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": task["slave_id"]}}}).status_code == 200
        wait_for(lambda: any(s.state.value == "TASK_KILLED" for s in runner.scheduler.statuses), message="killed")
    finally:
        runner.stop()


def test_an_agent_marked_gone_loses_its_tasks_and_leaves_the_cluster(client, cluster):
    # Last in this module: the agent it marks is gone for good.
    runner = _running_task(client, cluster)
    try:
        task = client.get("/master/tasks").json()["tasks"][0]
        agent = task["slave_id"]
        bad = _call(client, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {}}})
        assert bad.status_code == 400
        stranger = _call(client, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "no-such"}}})
        assert stranger.status_code == 404 and "Agent 'no-such' not found" in stranger.text  # as Mesos
        gone = _call(client, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent}}})
        assert gone.status_code == 200
        again = _call(client, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent}}})
        assert again.status_code == 200  # already gone: no change, as Mesos
        wait_for(lambda: any(s.state.value == "TASK_GONE_BY_OPERATOR" for s in runner.scheduler.statuses),
                 message="TASK_GONE_BY_OPERATOR")
        wait_for(lambda: agent not in [s["id"] for s in client.get("/master/slaves").json()["slaves"]],
                 message="the agent no longer listed")
    finally:
        runner.stop()
