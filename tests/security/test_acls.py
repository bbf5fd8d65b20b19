"""ACLs as Mesos' --acls: parsing with clear errors, first-match semantics, and the
master refusing what they deny."""

from __future__ import annotations

import json

import pytest

from actors.master import Master, MasterConfig
from actors.master.acls import ACLError, ACLs, load_acls, parse_acls
from messages import (
    Accept,
    CommandInfo,
    Operation,
    OperationType,
    RegisterFramework,
    Resources,
    TaskInfo,
)
from tests.security.test_identity_master import publish_as, refusals
from tests.unit.master.fakes import Cluster

RULES = {
    "register_frameworks": [
        {"principals": {"values": ["alice"]}, "roles": {"values": ["analytics"]}},
        {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}},
    ],
    "run_tasks": [
        {"principals": {"values": ["alice"]}, "users": {"values": ["alice", "nobody"]}},
    ],
    "register_agents": [{"principals": {"type": "ANY"}, "agents": {"type": "ANY"}}],  # denied when left out
}


def test_first_matching_rule_decides_and_none_denies():
    acls = parse_acls(json.dumps(RULES))
    assert acls.allows("register_frameworks", "alice", "analytics")
    assert not acls.allows("register_frameworks", "alice", "prod")  # ANY/NONE rule
    assert not acls.allows("register_frameworks", "bob", "analytics")
    assert acls.allows("run_tasks", "alice", "nobody") and not acls.allows("run_tasks", "alice", "root")
    assert not acls.allows("set_quotas", "alice", "x")  # a file given: deny when no rule decides
    assert parse_acls(json.dumps({"permissive": True})).allows("set_quotas", "alice", "x")
    assert ACLs.permissive_default().allows("run_tasks", "anyone", "root")
    assert "permissive" in ACLs.permissive_default().describe()


@pytest.mark.parametrize("text,error", [
    ("[]", "must be a JSON object"),
    ("{", "not JSON"),
    ('{"permissive": "yes"}', "permissive must be true or false"),
    ('{"run_tasks": {}}', "run_tasks must be a list"),
    ('{"run_tasks": [{"principals": {"type": "ANY"}}]}', "run_tasks[0]: missing users"),
    ('{"run_tasks": [{"principals": {"type": "ALL"}, "users": {"type": "ANY"}}]}', 'must be "ANY" or "NONE"'),
    ('{"run_tasks": [{"principals": {"values": [1]}, "users": {"type": "ANY"}}]}', "list of non-empty strings"),
    ('{"run_tasks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}, "users": {"type": "ANY"}}]}',
     "unknown field(s) roles"),
])
def test_a_bad_file_is_refused_with_a_clear_error(tmp_path, text, error):
    path = tmp_path / "acls.json"
    path.write_text(text)
    with pytest.raises(ACLError) as err:
        load_acls(path)
    assert error in str(err.value) and str(path) in str(err.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ACLError, match="No such file"):
        load_acls(tmp_path / "nope.json")


@pytest.fixture
def guarded(transport, clock):
    c = Cluster.__new__(Cluster)
    Cluster.__init__(c, transport, clock)
    c.master.stop()
    c._refs.remove(c.master)
    c.master = Master.start(transport, c.config, acls=parse_acls(json.dumps(RULES)))
    c._refs.append(c.master)
    yield c
    c.stop()


def test_the_master_refuses_a_registration_with_a_role_the_acls_deny(guarded):
    fw = guarded.framework("f1", register=False, roles=("prod",))
    publish_as(guarded, "alice", fw.address, RegisterFramework(fw.info))
    assert guarded.state()["frameworks"] == []
    assert "may not register a framework with role 'prod'" in refusals(guarded)[-1]
    ok = guarded.framework("f2", register=False, roles=("analytics",))
    publish_as(guarded, "alice", ok.address, RegisterFramework(ok.info))
    assert [f["id"] for f in guarded.state()["frameworks"]] == ["f2"]


def test_the_master_refuses_tasks_as_a_user_the_acls_deny(guarded):
    fw = guarded.framework("f2", register=False, user="alice", roles=("analytics",))
    publish_as(guarded, "alice", fw.address, RegisterFramework(fw.info))
    guarded.agent("a1")
    offer = guarded.offer("f2", "a1", "cpus:4;mem:4096", role="analytics")
    as_root = TaskInfo("t1", "t1", "a1", Resources.parse("cpus:1"), command=CommandInfo("id", user="root"))
    publish_as(guarded, "alice", fw.address, Accept("f2", (offer.offer_id,), (Operation(OperationType.LAUNCH, (as_root,)),)))
    assert guarded.state()["tasks"] == []
    assert "may not run tasks as user 'root'" in refusals(guarded)[-1]
    as_alice = TaskInfo("t2", "t2", "a1", Resources.parse("cpus:1"), command=CommandInfo("id"))
    publish_as(guarded, "alice", fw.address, Accept("f2", (offer.offer_id,), (Operation(OperationType.LAUNCH, (as_alice,)),)))
    assert [t["id"] for t in guarded.state()["tasks"]] == ["t2"]


def test_the_master_says_at_start_when_its_file_refuses_every_agent():
    assert "EVERY AGENT IS REFUSED" in parse_acls('{"run_tasks": []}', source="acls.json").describe()
    assert "REFUSED" not in parse_acls(json.dumps(RULES), source="acls.json").describe()
    assert "REFUSED" not in parse_acls('{"permissive": true}', source="acls.json").describe()


def test_auth_add_agent_writes_its_register_agents_rule_first(tmp_path, capsys):
    from argparse import Namespace

    from actors.cli.auth import _acl_rules

    path = tmp_path / "acls.json"
    path.write_text(json.dumps(RULES))
    assert _acl_rules(Namespace(kind="agent", principal="rack1", acls=str(path))) == 0
    rules = json.loads(path.read_text())["register_agents"]
    assert rules[0] == {"principals": {"values": ["rack1"]}, "agents": {"type": "ANY"}} and len(rules) == 2
    assert load_acls(path).allows("register_agents", "rack1")
    capsys.readouterr()
    assert _acl_rules(Namespace(kind="agent", principal="rack2", acls=None)) == 0
    assert capsys.readouterr().out == ""  # no file: nothing printed or written
