"""The operator's HTTP API behind authentication and ACLs, against an embedded cluster:
who may reach it (HTTP Basic, Mesos' --authenticate_http_readonly/readwrite), what a
principal may change (403 otherwise) and what it sees (left out, not refused)."""

from __future__ import annotations

import base64
import json

import pytest
from starlette.testclient import TestClient

from actors.http.basic_auth import Credentials
from messages.ids import COMMAND_EXECUTOR_ID
from actors.master.acls import parse_acls
from actors.operator import MasterSource, operator_app
from actors.operator.authenticate import HttpAuth
from actors.operator.files import SandboxReader, sandbox_path
from actors.operator.writes import master_sender
from tests.unit.operator_api.conftest import Recorder, wait_for

JSON = {"Content-Type": "application/json"}
SECRETS = {"ops": "ops-secret", "alice": "alice-secret", "bob": "bob-secret"}

ACLS = {
    "permissive": False,
    "update_weights": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
                       {"principals": {"values": ["alice"]}, "roles": {"values": ["dev"]}}],
    "update_quotas": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}}],
    "teardown_frameworks": [{"principals": {"values": ["ops"]}, "framework_principals": {"values": ["mesobus"]}},
                            {"principals": {"values": ["alice"]}, "framework_principals": {"values": ["team_a"]}}],
    "view_frameworks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
                        {"principals": {"values": ["alice"]}, "users": {"values": ["root"]}}],
    "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
                   {"principals": {"values": ["alice"]}, "users": {"values": ["root"]}}],
    "view_executors": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
    "view_roles": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
                   {"principals": {"values": ["alice"]}, "roles": {"values": ["dev"]}}],
    "access_sandboxes": [{"principals": {"values": ["alice"]}, "users": {"values": ["root"]}}],
    "get_endpoints": [{"principals": {"values": ["ops"]}, "paths": {"type": "ANY"}}],
}


def basic(principal: str, secret: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{principal}:{secret or SECRETS[principal]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _app(cluster, *, readonly=True, readwrite=True, acls=None):
    source = MasterSource("127.0.0.1:5050")
    source.lead(cluster.master_ref.proxy().snapshots.get(), master_sender(cluster.transport))
    source.files = SandboxReader(cluster.transport)
    return operator_app(source, auth=HttpAuth(Credentials(SECRETS), readonly, readwrite),
                        acls=parse_acls(json.dumps(acls)) if acls is not None else None)


@pytest.fixture
def guarded(cluster):
    with TestClient(_app(cluster, acls=ACLS)) as c:
        yield c


def _call(client, body: dict, principal: str | None = None):
    return client.post("/api/v1", content=json.dumps(body), headers={**JSON, **(basic(principal) if principal else {})})


# --- authentication ------------------------------------------------------------------

def test_a_request_without_credentials_gets_401_with_a_basic_challenge(guarded):
    answer = guarded.get("/master/state")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="mesobus"'
    assert _call(guarded, {"type": "GET_STATE"}).status_code == 401


def test_a_wrong_secret_or_unknown_principal_or_garbled_header_is_401(guarded):
    assert guarded.get("/master/state", headers=basic("ops", "guess")).status_code == 401
    assert guarded.get("/master/state", headers=basic("mallory", "ops-secret")).status_code == 401
    assert guarded.get("/master/state", headers={"Authorization": "Basic !!!not-base64"}).status_code == 401
    assert guarded.get("/master/state", headers={"Authorization": "Bearer x"}).status_code == 401


def test_health_version_and_redirect_stay_open(guarded):
    assert guarded.get("/health").status_code == 200
    assert guarded.get("/version").status_code == 200
    assert guarded.get("/master/redirect", follow_redirects=False).status_code == 307


def test_read_only_may_be_open_while_writes_need_a_principal(cluster):
    with TestClient(_app(cluster, readonly=False, readwrite=True)) as client:
        assert client.get("/master/state").status_code == 200
        answer = _call(client, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "dev", "weight": 2}]}})
        assert answer.status_code == 401
        assert client.put("/master/weights", content='[{"role": "dev", "weight": 2}]').status_code == 401
        # given anyway, credentials are checked: wrong ones are refused even where none are needed
        assert client.get("/master/state", headers=basic("ops", "guess")).status_code == 401
        ok = _call(client, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "dev", "weight": 2}]}},
                   "ops")
        assert ok.status_code == 200


# --- writes --------------------------------------------------------------------------

def _weights(client) -> dict:
    got = _call(client, {"type": "GET_WEIGHTS"}, "ops").json()["get_weights"]["weight_infos"]
    return {w["role"]: w["weight"] for w in got}


def test_update_weights_is_refused_with_403_for_a_role_the_principal_may_not_weigh(guarded):
    body = {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "prod", "weight": 5}]}}
    refused = _call(guarded, body, "alice")
    assert refused.status_code == 403 and "alice" in refused.text and "update_weights" in refused.text
    assert "prod" not in _weights(guarded)
    assert guarded.put("/master/weights", content='[{"role": "prod", "weight": 5}]', headers=basic("alice")).status_code == 403
    allowed = {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "dev", "weight": 3}]}}
    assert _call(guarded, allowed, "alice").status_code == 200
    assert _weights(guarded)["dev"] == 3.0


def test_update_quota_needs_update_quotas_for_its_role(guarded):
    body = {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": "dev", "limits": {"cpus": {"value": 1}}}]}}
    assert _call(guarded, body, "alice").status_code == 403
    assert guarded.post("/master/quota", content='{"role": "dev", "guarantee": []}', headers=basic("alice")).status_code == 403
    assert guarded.delete("/master/quota/dev", headers=basic("alice")).status_code == 403
    assert _call(guarded, body, "ops").status_code == 200


def test_older_set_quotas_rules_are_read_when_the_file_has_no_update_quotas(cluster):
    acls = {"set_quotas": [{"principals": {"values": ["bob"]}, "roles": {"values": ["dev"]}}]}
    with TestClient(_app(cluster, acls=acls)) as client:
        body = {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": "dev", "limits": {"cpus": {"value": 1}}}]}}
        assert _call(client, body, "bob").status_code == 200
        assert _call(client, body, "alice").status_code == 403


def test_teardown_is_allowed_only_for_the_frameworks_principals_named(guarded, cluster):
    handle = Recorder.run(cluster, name="victim")
    try:
        framework_id = wait_for(lambda: handle.framework_id, message="registered")
        wait_for(lambda: _call(guarded, {"type": "GET_FRAMEWORKS"}, "ops").json()["get_frameworks"]["frameworks"])
        body = {"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}}
        refused = _call(guarded, body, "alice")  # alice may tear down team_a's frameworks, not mesobus'
        assert refused.status_code == 403 and "teardown_frameworks" in refused.text
        assert guarded.post("/master/teardown", data={"frameworkId": framework_id}, headers=basic("alice")).status_code == 403
        assert _call(guarded, {"type": "GET_FRAMEWORKS"}, "ops").json()["get_frameworks"]["frameworks"]
        assert _call(guarded, body, "ops").status_code == 200
        wait_for(lambda: not _call(guarded, {"type": "GET_FRAMEWORKS"}, "ops").json()["get_frameworks"]["frameworks"],
                 message="torn down")
    finally:
        handle.stop()


# --- reads ---------------------------------------------------------------------------

def test_state_tasks_and_v1_reads_leave_out_what_the_principal_may_not_view(guarded, cluster):
    mine = Recorder.run(cluster, name="root-fw", user="root", roles=("dev",), commands=["echo mine; sleep 30"])
    theirs = Recorder.run(cluster, name="nobody-fw", user="nobody", roles=("prod",), commands=["sleep 30"])
    try:
        wait_for(lambda: len(guarded.get("/master/tasks", headers=basic("ops")).json()["tasks"]) == 2,
                 message="both tasks")
        _call(guarded, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [
            {"role": "dev", "weight": 2}, {"role": "prod", "weight": 3}]}}, "ops")
        state = guarded.get("/master/state", headers=basic("alice")).json()
        assert [f["name"] for f in state["frameworks"]] == ["root-fw"]
        assert {t["framework_id"] for t in guarded.get("/master/tasks", headers=basic("alice")).json()["tasks"]} \
            == {mine.framework_id}
        frameworks = _call(guarded, {"type": "GET_FRAMEWORKS"}, "alice").json()["get_frameworks"]["frameworks"]
        assert [f["framework_info"]["name"] for f in frameworks] == ["root-fw"]
        tasks = _call(guarded, {"type": "GET_TASKS"}, "alice").json()["get_tasks"]
        assert {t["framework_id"]["value"] for group in tasks.values() for t in group} == {mine.framework_id}
        assert [w["role"] for w in guarded.get("/master/weights", headers=basic("alice")).json()] == ["dev"]
        # bob is in no rule: he sees the agents, but no framework, task or weight
        bob = guarded.get("/master/state", headers=basic("bob")).json()
        assert bob["frameworks"] == [] and len(bob["slaves"]) == 2
        assert guarded.get("/master/tasks", headers=basic("bob")).json()["tasks"] == []
        # ops may view everything, and gets the same body as before
        assert {f["name"] for f in guarded.get("/master/state", headers=basic("ops")).json()["frameworks"]} \
            == {"root-fw", "nobody-fw"}
    finally:
        mine.stop()
        theirs.stop()


def test_sandboxes_are_read_only_by_principals_allowed_their_frameworks_user(guarded, cluster):
    mine = Recorder.run(cluster, name="root-fw", user="root", commands=["echo hello-mine; sleep 30"])
    theirs = Recorder.run(cluster, name="nobody-fw", user="nobody", commands=["sleep 30"])
    try:
        tasks = wait_for(lambda: len(t := guarded.get("/master/tasks", headers=basic("ops")).json()["tasks"]) == 2 and t)
        paths = {t["framework_id"]: sandbox_path(t["slave_id"], t["framework_id"], t["executor_id"] or COMMAND_EXECUTOR_ID,
                                                 t["id"]) + "/stdout" for t in tasks}
        mine_path, theirs_path = paths[mine.framework_id], paths[theirs.framework_id]
        got = wait_for(lambda: "hello-mine" in (r := guarded.get("/files/read", params={"path": mine_path, "offset": 0},
                                                                   headers=basic("alice"))).text and r)
        assert got.status_code == 200
        refused = guarded.get("/files/read", params={"path": theirs_path, "offset": 0}, headers=basic("alice"))
        assert refused.status_code == 403 and "access_sandboxes" in refused.text
        assert guarded.get("/files/download", params={"path": theirs_path}, headers=basic("alice")).status_code == 403
        assert _call(guarded, {"type": "READ_FILE", "read_file": {"path": theirs_path}}, "alice").status_code == 403
        assert guarded.get("/files/read", params={"path": mine_path}, headers=basic("ops")).status_code == 403
    finally:
        mine.stop()
        theirs.stop()


def test_metrics_endpoints_need_get_endpoints(guarded):
    assert guarded.get("/metrics/snapshot", headers=basic("ops")).status_code == 200
    assert guarded.get("/metrics/snapshot", headers=basic("alice")).status_code == 403
    assert guarded.get("/metrics", headers=basic("alice")).status_code == 403
    assert _call(guarded, {"type": "GET_METRICS"}, "alice").status_code == 403
    assert _call(guarded, {"type": "GET_METRICS"}, "ops").status_code == 200


def test_without_an_acl_file_an_authenticated_principal_may_do_everything(cluster):
    with TestClient(_app(cluster)) as client:
        assert client.get("/metrics/snapshot", headers=basic("bob")).status_code == 200
        body = {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "any", "weight": 2}]}}
        assert _call(client, body, "bob").status_code == 200
