"""Operator reservations, maintenance and agent deactivation, carried out by a real master
and allocator (memory transport, virtual clock), checked on the offers frameworks get, the
answers the operator gets, and what a new leader does after reading the registry."""

from __future__ import annotations

import pytest

from actors.master import MasterConfig
from actors.master.acls import parse_acls
from actors.registry import MemoryRegistryLog, Registry
from messages import (
    Accept,
    AgentRegistered,
    AgentUpdated,
    Filters,
    KillTask,
    MachineId,
    MaintenanceWindow,
    Operation,
    OperationType,
    RegisterAgent,
    ReregisterAgent,
    ReregisterFramework,
    Resources,
    ResourcesRecovered,
    ShutdownAgent,
    Task,
    TaskInfo,
    TaskState,
    Unavailability,
    decode,
)
from messages.operator import (
    AgentMaintenance,
    OperatorAnswer,
    ReserveResources,
    StartMaintenance,
    StopMaintenance,
    UnreserveResources,
    UpdateMaintenanceSchedule,
)
from messages.registry import AgentActivation, MachinesModeSet, MaintenanceScheduleSet, ReservationsSet
from tests.unit.master.fakes import Cluster

HOUR = 3600 * 10**9
WINDOW = MaintenanceWindow((MachineId("a1.test"),), Unavailability(2 * 10**18, HOUR))


class Operator:
    """Sends operator calls to the master and reads its answers."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.answers: list[OperatorAnswer] = []
        transport = cluster.transport
        try:
            transport.subscribe("operator", lambda d: (self.answers.append(decode(d.body).body), transport.ack(d)))
        except ValueError:
            pass  # a second leader in the same test: the sink is there already

    def call(self, body) -> OperatorAnswer:
        before = len(self.answers)
        self.cluster.send("operator", body)
        self.cluster.settle()
        assert len(self.answers) == before + 1, "the master did not answer"
        return self.answers[-1]


@pytest.fixture
def log():
    return MemoryRegistryLog()


def leader(transport, clock, log, name="m1", acls=None) -> Cluster:
    registry = Registry.elect(log, name, f"nonce-{name}")
    cluster = Cluster(transport, clock, MasterConfig(master_id=name, epoch=registry.epoch),
                      real_allocator=True, registry=registry)
    if acls is not None:
        cluster.master.proxy().reservations.get().acls = acls
    return cluster


def latest(fw, agent_id: str) -> str:
    offers = [o for o in fw.offers() if o.agent_id == agent_id]
    return str(offers[-1].resources) if offers else ""


def decline_all(cluster: Cluster, *fws) -> None:
    for fw in fws:
        for offer in fw.offers():
            fw.send(Accept(fw.id, (offer.offer_id,)), settle=False)
    cluster.settle()


def test_an_operator_reservation_is_offered_only_to_its_role_and_unreserve_returns_it(transport, clock, log):
    cluster = leader(transport, clock, log)
    operator = Operator(cluster)
    try:
        web = cluster.framework("w1", roles=("web",))
        dev = cluster.framework("d1", roles=("dev",))
        cluster.agent("a1", "cpus:4;mem:1024")
        cluster.advance(2, step=1)

        answer = operator.call(ReserveResources("a1", Resources.parse("cpus(web):3")))
        assert answer.ok, answer
        assert [r for _, r in log.read()][-1] == ReservationsSet("a1", Resources.parse("cpus(web):3"), epoch=1,
                                                                  reservers={"web": ("",)})  # made anonymously
        seen = len(web.offers()), len(dev.offers())
        decline_all(cluster, web, dev)
        cluster.advance(12, step=1)
        # web is offered its reserved 3 cpus; dev never sees them, only the 1 cpu left.
        after_web, after_dev = web.offers()[seen[0]:], dev.offers()[seen[1]:]
        assert after_web and after_dev
        assert any("cpus(web):3" in str(o.resources) for o in after_web), after_web
        assert all(o.resources.reserved("web").is_empty() and o.resources.scalar("cpus") <= 1 for o in after_dev)

        assert operator.call(UnreserveResources("a1", Resources.parse("cpus(web):3"))).ok
        seen = len(web.offers()), len(dev.offers())
        decline_all(cluster, web, dev)
        cluster.advance(12, step=1)
        after = web.offers()[seen[0]:] + dev.offers()[seen[1]:]
        assert after and all(o.resources.reserved("web").is_empty() for o in after)
        assert any(o.resources.scalar("cpus") == 4 for o in after), after
        assert cluster.state()["agents"][0]["reserved_resources"] == ""
    finally:
        cluster.stop()


def test_reserving_what_is_not_there_is_a_conflict_and_bad_calls_are_refused(transport, clock, log):
    cluster = leader(transport, clock, log, acls=parse_acls(
        '{"reserve_resources": [{"principals": {"values": ["ops"]}, "roles": {"values": ["web"]}}]}'))
    operator = Operator(cluster)
    try:
        cluster.agent("a1", "cpus:4;mem:1024")
        cluster.settle()
        too_much = operator.call(ReserveResources("a1", Resources.parse("cpus(web):5")))
        assert (too_much.ok, too_much.status) == (False, 409) and "not available" in too_much.message
        assert operator.call(ReserveResources("nope", Resources.parse("cpus(web):1"))).status == 400
        unreserved = operator.call(ReserveResources("a1", Resources.parse("cpus:1")))
        assert not unreserved.ok and "not reserved for a role" in unreserved.message
        assert not operator.call(UnreserveResources("a1", Resources.parse("cpus(web):1"))).ok  # none made
        refused = operator.call(ReserveResources("a1", Resources.parse("cpus(dev):1"), principal="ops"))
        assert (refused.ok, refused.status) == (False, 403) and "reserve_resources" in refused.message
        assert operator.call(ReserveResources("a1", Resources.parse("cpus(web):1"), principal="ops")).ok
        assert not [r for _, r in log.read() if isinstance(r, ReservationsSet) and r.reservations.roles() != {"web"}]
    finally:
        cluster.stop()


def test_resources_used_by_a_task_cannot_be_reserved_but_offered_ones_are_rescinded(transport, clock, log):
    cluster = leader(transport, clock, log)
    operator = Operator(cluster)
    try:
        web = cluster.framework("w1", roles=("web",))
        cluster.agent("a1", "cpus:4;mem:1024")
        cluster.advance(2, step=1)
        offer = web.offers()[-1]
        task = TaskInfo(task_id="t1", name="t1", agent_id="a1", resources=Resources.parse("cpus:3;mem:128"),
                        command=_command())
        web.send(Accept("w1", (offer.offer_id,), (Operation(OperationType.LAUNCH, tasks=(task,)),), Filters(0)))
        cluster.advance(3, step=1)
        outstanding = web.offers()[-1]
        assert outstanding.resources.scalar("cpus") == 1  # what the task leaves, offered again
        assert operator.call(ReserveResources("a1", Resources.parse("cpus(web):2"))).status == 409
        assert operator.call(ReserveResources("a1", Resources.parse("cpus(web):1"))).ok
        # The outstanding offer held that cpu: it was rescinded, and it comes back reserved.
        from messages import RescindResourceOffer

        assert outstanding.offer_id in [r.offer_id for r in web.got(RescindResourceOffer)]
        cluster.advance(2, step=1)
        assert latest(web, "a1").startswith("mem:896") and "cpus(web):1" in latest(web, "a1")
    finally:
        cluster.stop()


def _command():
    from messages import CommandInfo

    return CommandInfo(value="sleep 100")


def test_draining_machines_offers_carry_their_unavailability(transport, clock, log):
    cluster = leader(transport, clock, log)
    operator = Operator(cluster)
    try:
        fw = cluster.framework("f1")
        cluster.agent("a1", "cpus:2;mem:512")
        cluster.agent("a2", "cpus:2;mem:512")
        cluster.advance(2, step=1)
        before = {o.agent_id: o for o in fw.offers()}
        assert before["a1"].unavailability is None
        assert operator.call(UpdateMaintenanceSchedule((WINDOW,))).ok
        # The offer of a1 was rescinded; a1's next offer says when it will be unavailable.
        cluster.advance(2, step=1)
        assert [o for o in fw.offers() if o.agent_id == "a1"][-1].unavailability == WINDOW.unavailability
        assert all(o.unavailability is None for o in fw.offers() if o.agent_id == "a2")
        assert isinstance([r for _, r in log.read()][-1], MaintenanceScheduleSet)
    finally:
        cluster.stop()


def test_a_machine_down_loses_its_agent_and_refuses_it_until_it_is_up(transport, clock, log):
    cluster = leader(transport, clock, log)
    operator = Operator(cluster)
    try:
        fw = cluster.framework("f1")
        a1 = cluster.agent("a1", "cpus:2;mem:512")
        cluster.advance(2, step=1)
        offer = fw.offers()[-1]
        task = TaskInfo(task_id="t1", name="t1", agent_id="a1", resources=Resources.parse("cpus:1;mem:128"),
                        command=_command())
        fw.send(Accept("f1", (offer.offer_id,), (Operation(OperationType.LAUNCH, tasks=(task,)),)))
        # Mesos' checks: only a scheduled (DRAINING) machine goes down, only a DOWN one comes up.
        not_scheduled = operator.call(StartMaintenance((MachineId("a1.test"),)))
        assert not not_scheduled.ok and "not part of a maintenance schedule" in not_scheduled.message
        assert operator.call(UpdateMaintenanceSchedule((WINDOW,))).ok
        draining = operator.call(StopMaintenance((MachineId("a1.test"),)))
        assert not draining.ok and "not in DOWN mode" in draining.message

        assert operator.call(StartMaintenance((MachineId("a1.test"),))).ok
        assert "DOWN for maintenance" in a1.last(ShutdownAgent).message
        assert fw.statuses()[-1].state is TaskState.TASK_LOST
        assert cluster.state()["agents"] == []
        a1.send(RegisterAgent(a1.info))
        assert "DOWN for maintenance" in a1.last(ShutdownAgent).message
        removing = operator.call(UpdateMaintenanceSchedule(()))
        assert not removing.ok and "DOWN" in removing.message

        assert operator.call(StopMaintenance((MachineId("a1.test"),))).ok
        a1.send(RegisterAgent(a1.info))
        assert a1.last(AgentRegistered).agent_id == "a1"
        state = cluster.master.proxy().registry.get().state
        assert state.schedule == () and state.down == {}
        kinds = [type(r) for _, r in log.read()]
        assert kinds.count(MachinesModeSet) == 2
    finally:
        cluster.stop()


def test_a_new_leader_keeps_agents_deactivated_draining_and_machines_in_maintenance(transport, clock, log):
    cluster = leader(transport, clock, log)
    operator = Operator(cluster)
    try:
        fw = cluster.framework("f1", roles=("web",))
        a1 = cluster.agent("a1", "cpus:2;mem:512")
        a2 = cluster.agent("a2", "cpus:2;mem:512")
        a3 = cluster.agent("a3", "cpus:2;mem:512")
        a4 = cluster.agent("a4", "cpus:2;mem:512")
        cluster.advance(2, step=1)
        assert operator.call(AgentMaintenance("a1", active=False)).ok
        assert operator.call(AgentMaintenance("a2", active=False, drain=True)).ok
        assert operator.call(ReserveResources("a4", Resources.parse("cpus(web):1"))).ok
        windows = (MaintenanceWindow((MachineId("a3.test"),), Unavailability(10**18)),
                   MaintenanceWindow((MachineId("a4.test"),), Unavailability(3 * 10**18, HOUR)))
        assert operator.call(UpdateMaintenanceSchedule(windows)).ok
        assert operator.call(StartMaintenance((MachineId("a3.test"),))).ok
        assert [type(r) for _, r in log.read()].count(AgentActivation) == 2

        second = Registry.elect(log, "m2", "nonce-m2")
        cluster.fail_over(second)
        fw.clear()
        running = Task("t9", "t9", "f1", "a2", "t9", Resources.parse("cpus:1;mem:64"), TaskState.TASK_RUNNING, "web")
        for agent, tasks in ((a1, ()), (a2, (running,)), (a3, ()), (a4, ())):
            agent.clear()
            agent.send(ReregisterAgent(agent.info, tasks=tasks, frameworks=(fw.info,)))
        fw.send(ReregisterFramework(fw.info))
        cluster.advance(12, step=1)

        offered = {o.agent_id for o in fw.offers()}
        assert offered == {"a4"}, fw.got()  # a1, a2 deactivated; a3 DOWN
        # a4's machine is DRAINING: its offers carry the window; its reservation is back.
        assert {o.unavailability for o in fw.offers()} == {windows[1].unavailability}
        assert "cpus(web):1" in latest(fw, "a4")
        assert "DOWN for maintenance" in a3.last(ShutdownAgent).message
        # a2 was draining: the task it came back with is killed.
        assert [k.task_id for k in a2.got(KillTask)] == ["t9"], a2.got()

        answer = operator.call(AgentMaintenance("a1", active=True))
        assert answer.ok
        cluster.advance(12, step=1)
        assert "a1" in {o.agent_id for o in fw.offers()}
    finally:
        cluster.stop()


def test_an_allocation_made_before_a_reservation_goes_back_instead_of_being_offered(cluster):
    # `cluster`: a fake allocator, so the test decides what is allocated and when.
    operator = Operator(cluster)
    web = cluster.framework("w1", roles=("web",))
    cluster.agent("a1", "cpus:4;mem:1024")
    assert operator.call(ReserveResources("a1", Resources.parse("cpus(web):3"))).ok
    update = cluster.allocator_got(AgentUpdated)[-1]
    assert update.total == Resources.parse("cpus:1;mem:1024;cpus(web):3") and update.recovered == ()
    # Allocated for the old shape (on its way while the reservation was made): recovered.
    cluster.allocate(("w1", "a1", "cpus:4;mem:1024", "web"))
    assert web.offers() == []
    assert cluster.allocator_got(ResourcesRecovered)[-1].resources == Resources.parse("cpus:4;mem:1024")
    assert cluster.state()["metrics"]["master/allocations_outdated"] == 1
    # Allocated for the new shape: offered.
    offer = cluster.offer("w1", "a1", "cpus:1;mem:1024;cpus(web):3", "web")
    assert offer.resources.reserved("web") == Resources.parse("cpus(web):3")


def test_an_agent_deactivated_before_a_failover_can_be_reactivated_before_it_is_back(transport, clock, log):
    cluster = leader(transport, clock, log)
    operator = Operator(cluster)
    try:
        fw = cluster.framework("f1")
        a1 = cluster.agent("a1", "cpus:2;mem:512")
        cluster.settle()
        assert operator.call(AgentMaintenance("a1", active=False)).ok
        cluster.fail_over(Registry.elect(log, "m2", "nonce-m2"))
        assert operator.call(AgentMaintenance("a1", active=True)).ok  # not re-registered yet
        assert not operator.call(AgentMaintenance("a9", active=True)).ok  # never deactivated, unknown
        fw.clear()
        a1.send(ReregisterAgent(a1.info, frameworks=(fw.info,)))
        fw.send(ReregisterFramework(fw.info))
        cluster.advance(3, step=1)
        assert {o.agent_id for o in fw.offers()} == {"a1"}
        assert cluster.master.proxy().registry.get().state.deactivated == {}
    finally:
        cluster.stop()
