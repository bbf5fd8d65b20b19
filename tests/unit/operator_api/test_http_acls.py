"""Mesos' operator ACLs beyond weights, quota, teardown and views, over HTTP against an
embedded cluster: the agent calls, maintenance, flags, quota reads and unreservations,
each allowed for one principal and refused (403 naming principal, action and object) or
filtered for another, on the v1 API and the older endpoints."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from starlette.testclient import TestClient

from actors.master.acls import parse_acls
from tests.unit.operator_api.test_http_auth import _app, _call, basic

ANY = {"type": "ANY"}
OPS = {"values": ["ops"]}
ACLS = {
    "permissive": False,
    **{action: [{"principals": OPS, obj: ANY}] for action, obj in (
        ("view_flags", "flags"), ("mark_agents_gone", "agents"), ("drain_agents", "agents"),
        ("deactivate_agents", "agents"), ("reactivate_agents", "agents"),
        ("update_maintenance_schedules", "machines"), ("get_maintenance_schedules", "machines"),
        ("start_maintenances", "machines"), ("stop_maintenances", "machines"),
        ("get_maintenance_statuses", "machines"), ("update_quotas", "roles"), ("get_quotas", "roles"),
    )},
    "view_roles": [{"principals": {"type": "ANY"}, "roles": ANY}],
    "reserve_resources": [{"principals": {"values": ["alice", "bob"]}, "roles": ANY}],
    "unreserve_resources": [{"principals": OPS, "reserver_principals": ANY},
                            {"principals": {"values": ["alice"]}, "reserver_principals": {"values": ["alice"]}}],
}


@pytest.fixture
def client(cluster):
    # the master checks (un)reservations itself: it reads the same file as the HTTP API
    cluster.master_ref.proxy().reservations.get().acls = parse_acls(json.dumps(ACLS))
    with TestClient(_app(cluster, acls=ACLS)) as c:
        yield c


def _agents(client) -> list[dict]:
    return client.get("/master/slaves", headers=basic("ops")).json()["slaves"]


def _refused(response, principal: str, action: str, about: str = "") -> None:
    assert response.status_code == 403, (response.status_code, response.text)
    assert f"'{principal}'" in response.text and action in response.text and about in response.text


@pytest.mark.parametrize("kind, action", [
    ("DEACTIVATE_AGENT", "deactivate_agents"),
    ("REACTIVATE_AGENT", "reactivate_agents"),
    ("DRAIN_AGENT", "drain_agents"),
    ("MARK_AGENT_GONE", "mark_agents_gone"),
])
def test_agent_calls_need_their_acl(client, kind, action):
    agent = _agents(client)[0]["id"]
    call = {"type": kind, kind.lower(): {"agent_id": {"value": agent}}}
    _refused(_call(client, call, "alice"), "alice", action, agent)
    assert _call(client, call, "ops").status_code == 200


def test_maintenance_writes_need_their_acls_on_v1_and_the_older_endpoints(client):
    host = _agents(client)[0]["hostname"]
    machines = [{"hostname": host}]
    schedule = {"windows": [{"machine_ids": machines, "unavailability": {"start": {"nanoseconds": 1}}}]}
    update = {"type": "UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule": {"schedule": schedule}}
    _refused(_call(client, update, "alice"), "alice", "update_maintenance_schedules", "1 window")
    _refused(client.post("/master/maintenance/schedule", content=json.dumps(schedule), headers=basic("alice")),
             "alice", "update_maintenance_schedules")
    assert client.get("/master/maintenance/schedule", headers=basic("ops")).json() == {}
    assert _call(client, update, "ops").status_code == 200

    start = {"type": "START_MAINTENANCE", "start_maintenance": {"machines": machines}}
    _refused(_call(client, start, "alice"), "alice", "start_maintenances", "1 machine")
    _refused(client.post("/master/machine/down", content=json.dumps(machines), headers=basic("alice")),
             "alice", "start_maintenances")
    assert client.post("/master/machine/down", content=json.dumps(machines), headers=basic("ops")).status_code == 200

    stop = {"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": machines}}
    _refused(_call(client, stop, "alice"), "alice", "stop_maintenances")
    _refused(client.post("/master/machine/up", content=json.dumps(machines), headers=basic("alice")),
             "alice", "stop_maintenances")
    assert _call(client, stop, "ops").status_code == 200


def test_maintenance_reads_are_emptied_for_a_principal_without_their_acls(client):
    host = _agents(client)[0]["hostname"].lower()
    schedule = {"windows": [{"machine_ids": [{"hostname": host}], "unavailability": {"start": {"nanoseconds": 1}}}]}
    assert client.post("/master/maintenance/schedule", content=json.dumps(schedule), headers=basic("ops")).status_code == 200
    for principal, seen in (("ops", True), ("alice", False)):
        got = _call(client, {"type": "GET_MAINTENANCE_SCHEDULE"}, principal).json()["get_maintenance_schedule"]
        assert bool(got["schedule"]) is seen
        got = _call(client, {"type": "GET_MAINTENANCE_STATUS"}, principal).json()["get_maintenance_status"]
        assert bool(got["status"]) is seen
        assert bool(client.get("/master/maintenance/schedule", headers=basic(principal)).json()) is seen
        assert bool(client.get("/master/maintenance/status", headers=basic(principal)).json()) is seen


def test_flags_need_view_flags(client):
    _refused(_call(client, {"type": "GET_FLAGS"}, "alice"), "alice", "view_flags")
    _refused(client.get("/master/flags", headers=basic("alice")), "alice", "view_flags")
    assert client.get("/flags", headers=basic("bob")).status_code == 403
    assert client.get("/master/state", headers=basic("alice")).json()["flags"] == {}

    assert _call(client, {"type": "GET_FLAGS"}, "ops").json()["get_flags"]["flags"]
    assert client.get("/master/flags", headers=basic("ops")).json()["flags"]
    assert client.get("/master/state", headers=basic("ops")).json()["flags"]


def test_quota_is_shown_only_to_principals_with_get_quotas(client):
    body = {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": "dev", "limits": {"cpus": {"value": 1}}}]}}
    assert _call(client, body, "ops").status_code == 200
    for principal, roles in (("ops", ["dev"]), ("alice", [])):
        status = _call(client, {"type": "GET_QUOTA"}, principal).json()["get_quota"]["status"]
        assert [c["role"] for c in status.get("configs", [])] == roles
        legacy = client.get("/master/quota", headers=basic(principal)).json()
        assert [c["role"] for c in legacy.get("configs", [])] == roles


def test_unreserve_needs_unreserve_resources_for_the_principal_that_reserved(client):
    agent = _agents(client)[0]["id"]
    resources = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
                  "reservations": [{"type": "DYNAMIC", "role": "dev"}]}]

    def call(kind: str, principal: str):
        key = kind.lower()
        return _call(client, {"type": kind, key: {"agent_id": {"value": agent}, "resources": resources}}, principal)

    def legacy(path: str, principal: str):
        form = urllib.parse.urlencode({"slaveId": agent, "resources": json.dumps(resources)})
        return client.post(path, content=form, headers={**basic(principal),
                                                        "Content-Type": "application/x-www-form-urlencoded"})

    assert call("RESERVE_RESOURCES", "bob").status_code == 202
    _refused(call("UNRESERVE_RESOURCES", "alice"), "alice", "unreserve_resources", "'bob'")
    _refused(legacy("/master/unreserve", "bob"), "bob", "unreserve_resources")
    assert legacy("/master/unreserve", "ops").status_code == 202

    assert legacy("/master/reserve", "alice").status_code == 202
    assert call("UNRESERVE_RESOURCES", "alice").status_code == 202
