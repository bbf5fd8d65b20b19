"""The ACLs the master itself enforces for the publishing principal (memory transport,
which stamps each publish with its user as the broker does): `register_agents` on an
agent's (re-)registration, `unreserve_resources` by the principals that made the
reservations (operator calls and a framework's UNRESERVE), and the bound on an
executor's address (agent id + framework id + executor id) checked before a launch."""

from __future__ import annotations

from actors.master.acls import parse_acls
from messages import (
    Accept,
    AgentRegistered,
    CommandInfo,
    Envelope,
    ExecutorInfo,
    Operation,
    OperationType,
    RegisterAgent,
    ReregisterAgent,
    Resources,
    RunTask,
    StatusReason,
    TaskInfo,
    TaskState,
)
from messages.limits import MAX_ID_BYTES
from messages.operator import ReserveResources, UnreserveResources
from tests.unit.master.fakes import Cluster
from tests.unit.master.test_operator_registry import Operator


def _as(cluster: Cluster, user: str, sender: str, body) -> None:
    """Publish `body` to the master as broker user `user`."""
    envelope = Envelope(id=f"as-{user}-{sender}", sender=sender, target="master", body=body,
                        sent_at=cluster.clock.now())
    cluster.transport.as_user(user).publish(envelope)
    cluster.settle()


def _set_acls(cluster: Cluster, text: str) -> None:
    acls = parse_acls(text)
    master = cluster.master.proxy()
    master.trust.get().acls = acls
    master.reservations.get().acls = acls


# --- register_agents ---------------------------------------------------------------------

def test_only_principals_allowed_register_agents_may_register_or_reregister_an_agent(cluster):
    _set_acls(cluster, '{"register_agents": [{"principals": {"values": ["agents"]}, "agents": {"type": "ANY"}}]}')
    refused = cluster.agent("a1", register=False)
    _as(cluster, "intruder", refused.address, RegisterAgent(refused.info))
    _as(cluster, "intruder", refused.address, ReregisterAgent(refused.info))
    assert refused.got(AgentRegistered) == []
    assert cluster.state()["metrics"].get("master/slave_registrations", 0) == 0

    allowed = cluster.agent("a2", register=False)
    _as(cluster, "agents", allowed.address, RegisterAgent(allowed.info))
    assert allowed.last(AgentRegistered).agent_id == "a2"


def test_register_agents_rules_take_only_any_or_none():
    try:
        parse_acls('{"register_agents": [{"principals": {"type": "ANY"}, "agents": {"values": ["a1"]}}]}')
    except ValueError as err:
        assert "register_agents[0].agents" in str(err) and "implicit" in str(err)
    else:
        raise AssertionError("a list of agents was accepted")


# --- unreserve_resources -----------------------------------------------------------------

UNRESERVE_ACLS = """{
  "reserve_resources": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
  "unreserve_resources": [
    {"principals": {"values": ["ops"]}, "reserver_principals": {"type": "ANY"}},
    {"principals": {"values": ["alice"]}, "reserver_principals": {"values": ["alice"]}}
  ]
}"""


def test_an_operator_unreserves_only_what_principals_it_may_unreserve_for_reserved(cluster):
    operator = Operator(cluster)
    cluster.agent("a1", "cpus:4;mem:1024")
    _set_acls(cluster, UNRESERVE_ACLS)
    web = Resources.parse("cpus(web):1")
    assert operator.call(ReserveResources("a1", web, principal="bob")).ok
    assert operator.call(ReserveResources("a1", Resources.parse("cpus(dev):1"), principal="alice")).ok

    refused = operator.call(UnreserveResources("a1", web, principal="alice"))
    assert (refused.ok, refused.status) == (False, 403)
    assert "'alice'" in refused.message and "'bob'" in refused.message and "unreserve_resources" in refused.message
    assert cluster.master.proxy().registry.get().state.reservations["a1"] == Resources.parse("cpus(web):1;cpus(dev):1")

    assert operator.call(UnreserveResources("a1", Resources.parse("cpus(dev):1"), principal="alice")).ok
    assert operator.call(UnreserveResources("a1", web, principal="ops")).ok
    state = cluster.master.proxy().registry.get().state
    assert "a1" not in state.reservations and "a1" not in state.reservers


def test_reserving_is_still_checked_under_reserve_resources_not_unreserve(cluster):
    operator = Operator(cluster)
    cluster.agent("a1", "cpus:4;mem:1024")
    _set_acls(cluster, '{"unreserve_resources": [{"principals": {"type": "ANY"}, "reserver_principals": {"type": "ANY"}}]}')
    answer = operator.call(ReserveResources("a1", Resources.parse("cpus(web):1"), principal="bob"))
    assert (answer.ok, answer.status) == (False, 403) and "reserve_resources" in answer.message


def test_a_frameworks_unreserve_needs_unreserve_resources_for_the_reserver(cluster):
    operator = Operator(cluster)
    fw = cluster.framework("f1", roles=("web",))
    cluster.agent("a1", "cpus:4;mem:1024")
    assert operator.call(ReserveResources("a1", Resources.parse("cpus(web):2"), principal="ops")).ok
    _set_acls(cluster, """{"reserve_resources": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
        "unreserve_resources": [{"principals": {"type": "ANY"}, "reserver_principals": {"values": ["mesobus"]}}]}""")
    unreserve = Operation(OperationType.UNRESERVE, resources=Resources.parse("cpus(web):2"))

    offer = cluster.offer("f1", "a1", "cpus(web):2", role="web")
    fw.send(Accept("f1", (offer.offer_id,), (unreserve,)))  # refused whole: the offer stays outstanding
    assert cluster.master.proxy().registry.get().state.reservations["a1"] == Resources.parse("cpus(web):2")

    _set_acls(cluster, '{"unreserve_resources": [{"principals": {"type": "ANY"}, "reserver_principals": {"values": ["ops"]}}]}')
    fw.send(Accept("f1", (offer.offer_id,), (unreserve,)))
    assert "a1" not in cluster.master.proxy().registry.get().state.reservations


# --- the executor's address -----------------------------------------------------------

def _launch(cluster: Cluster, framework_id: str, agent_id: str, task: TaskInfo):
    fw = cluster.framework(framework_id)
    agent = cluster.agent(agent_id)
    offer = cluster.offer(framework_id, agent_id, "cpus:4;mem:4096")
    fw.send(Accept(framework_id, (offer.offer_id,), (Operation(OperationType.LAUNCH, (task,)),)))
    return fw, agent


def test_a_task_whose_executor_address_would_pass_the_queue_name_limit_is_a_task_error(cluster):
    long_fw, long_agent = "f" * MAX_ID_BYTES, "a" * MAX_ID_BYTES  # each id within its own bound
    task = TaskInfo("t1", "t1", long_agent, Resources.parse("cpus:1;mem:64"), command=CommandInfo("true"))
    fw, agent = _launch(cluster, long_fw, long_agent, task)
    [error] = [s for s in fw.statuses() if s.state is TaskState.TASK_ERROR]
    assert error.reason is StatusReason.REASON_TASK_INVALID
    assert "255 bytes" in error.message and "executor's address" in error.message
    assert agent.got(RunTask) == []
    assert cluster.state()["tasks"] == []


def test_a_custom_executor_address_is_bounded_too_and_a_short_one_launches(cluster):
    agent_id = "a" * MAX_ID_BYTES
    executor = ExecutorInfo("e" * 100, CommandInfo("true"), resources=Resources.parse("cpus:0.1;mem:32"))
    long = TaskInfo("t1", "t1", agent_id, Resources.parse("cpus:1;mem:64"), executor=executor)
    fw, agent = _launch(cluster, "f" * 20, agent_id, long)  # 9 + 120 + 1 + 20 + 1 + 100 = 251 bytes
    assert "executor's address" in [s for s in fw.statuses() if s.state is TaskState.TASK_ERROR][0].message

    short = TaskInfo("t2", "t2", agent_id, Resources.parse("cpus:1;mem:64"), command=CommandInfo("true"))
    offer = cluster.offer("f" * 20, agent_id, "cpus:3;mem:4000")
    fw.send(Accept("f" * 20, (offer.offer_id,), (Operation(OperationType.LAUNCH, (short,)),)))
    assert agent.last(RunTask).task.task_id == "t2"
