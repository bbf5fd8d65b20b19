"""What the Scheduler's actions send, and how callbacks and acknowledgements behave."""

from __future__ import annotations

import pytest

from actors.scheduler.idfile import IdFile
from messages import (
    Accept,
    DeactivateFramework,
    Decline,
    ExecutorToFramework,
    ExitedExecutor,
    Filters,
    FrameworkError,
    FrameworkToExecutor,
    KillTask,
    LostAgent,
    MasterHeartbeat,
    Offer,
    OperationType,
    ReconcileTasks,
    RescindResourceOffer,
    ResourceOffers,
    Resources,
    Revive,
    StatusReason,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    Suppress,
    TaskRef,
    TaskState,
    TaskStatus,
    UnregisterFramework,
)

from .conftest import Recording, tell


def offer(fid: str, offer_id: str = "o1", agent: str = "a1", resources: str = "cpus:2;mem:1024", role: str = "*"):
    return Offer(offer_id, fid, agent, "host1", Resources.parse(resources), role=role)


def update(fid: str, task_id: str = "t1", uuid: str = "u1", state=TaskState.TASK_RUNNING) -> StatusUpdate:
    status = TaskStatus(task_id=task_id, state=state)
    return StatusUpdate(fid, "mesobus-command", "a1", status, 0.0, uuid)


def test_offers_reach_resource_offers(start, master, transport) -> None:
    handle, sched = start()
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id),)))
    assert sched.calls[-1] == ("resource_offers", [offer(handle.framework_id)])


def test_launch_sends_accept_with_one_launch_operation(start, master, transport) -> None:
    handle, sched = start()
    o = offer(handle.framework_id)
    task = sched.task(o, "echo hi", cpus=0.5, mem=64, name="greet")
    sched.launch(o, [task], filters=10)
    transport.settle()
    [accept] = master.of(Accept)
    assert accept.offer_ids == ("o1",) and accept.filters == Filters(10)
    [op] = accept.operations
    assert op.type is OperationType.LAUNCH and op.tasks == (task,)
    assert (task.agent_id, task.name, str(task.resources)) == ("a1", "greet", "cpus:0.5;mem:64")
    assert task.command.value == "echo hi" and task.task_id


def test_task_helper_takes_reserved_resources_when_unreserved_run_short(start, master) -> None:
    handle, sched = start()
    o = offer(handle.framework_id, resources="cpus:0.5;cpus(web):2;mem:512", role="web")
    task = sched.task(o, ["sleep", "1"], task_id="t9", cpus=1.5, mem=128)
    assert task.task_id == "t9" and task.command.arguments == ("sleep", "1")
    assert task.resources == Resources.parse("cpus:0.5;cpus(web):1;mem:128")
    assert o.resources.contains(task.resources)


def test_decline_sends_refuse_seconds(start, master, transport) -> None:
    handle, sched = start()
    sched.decline([offer(handle.framework_id, "o1"), "o2"], refuse_seconds=30)
    transport.settle()
    assert master.of(Decline) == [Decline(handle.framework_id, ("o1", "o2"), Filters(30))]


def test_revive_suppress_kill_and_framework_message_are_sent(start, master, transport) -> None:
    handle, sched = start()
    fid = handle.framework_id
    sched.suppress()
    sched.revive(["web"])
    sched.kill("t1", "a1")
    sched.send_framework_message("ex1", "a1", b"hello")
    transport.settle()
    assert master.of(Suppress) == [Suppress(fid, ())]
    assert master.of(Revive) == [Revive(fid, ("web",))]
    assert master.of(KillTask) == [KillTask(fid, "t1", "a1")]
    assert master.of(FrameworkToExecutor) == [FrameworkToExecutor(fid, "ex1", "a1", b"hello")]


def test_reconcile_explicit_and_implicit(start, master, transport) -> None:
    handle, sched = start()
    sched.reconcile([("t1", "a1"), TaskRef("t2"), "t3"])
    sched.reconcile()
    transport.settle()
    explicit, implicit = master.of(ReconcileTasks)
    assert explicit.tasks == (TaskRef("t1", "a1"), TaskRef("t2"), TaskRef("t3"))
    assert implicit.tasks == ()


def test_status_update_is_acknowledged_after_the_callback(start, master, transport) -> None:
    handle, sched = start()
    tell(transport, sched.address, update(handle.framework_id))
    [(name, status)] = [c for c in sched.calls if c[0] == "status_update"]
    assert (status.task_id, status.state, status.uuid, status.agent_id) == ("t1", TaskState.TASK_RUNNING, "u1", "a1")
    assert master.of(StatusUpdateAcknowledgement) == [
        StatusUpdateAcknowledgement("a1", handle.framework_id, "t1", "u1")
    ]


def test_status_update_without_uuid_is_never_acknowledged(start, master, transport) -> None:
    handle, sched = start()
    reconciled = StatusUpdate(
        handle.framework_id, "", "a1",
        TaskStatus("t1", TaskState.TASK_LOST, reason=StatusReason.REASON_RECONCILIATION), 0.0, "",
    )
    tell(transport, sched.address, reconciled)
    assert sched.names()[-1] == "status_update"
    assert master.of(StatusUpdateAcknowledgement) == []


def test_explicit_acknowledgement_waits_for_acknowledge(start, master, transport) -> None:
    handle, sched = start(implicit_acknowledgements=False)
    tell(transport, sched.address, update(handle.framework_id))
    assert master.of(StatusUpdateAcknowledgement) == []
    sched.acknowledge(sched.calls[-1][1])
    transport.settle()
    assert len(master.of(StatusUpdateAcknowledgement)) == 1


def test_redelivered_update_is_acknowledged_again_but_not_handled_twice(start, master, transport) -> None:
    handle, sched = start()
    tell(transport, sched.address, update(handle.framework_id))
    tell(transport, sched.address, update(handle.framework_id))
    assert sched.names().count("status_update") == 1
    assert len(master.of(StatusUpdateAcknowledgement)) == 2


def test_failing_status_callback_leaves_the_update_unacknowledged(start, master, transport) -> None:
    handle, sched = start(fail_status=True)
    tell(transport, sched.address, update(handle.framework_id))
    assert master.of(StatusUpdateAcknowledgement) == []
    assert "callback failed" in transport.dead_letters[-1].reason
    assert sched.connected  # the scheduler keeps running


def test_master_events_reach_their_callbacks(start, master, transport) -> None:
    handle, sched = start()
    fid = handle.framework_id
    for body in (
        RescindResourceOffer("o1"),
        LostAgent("a2"),
        ExitedExecutor(fid, "ex1", "a1", 137),
        ExecutorToFramework(fid, "ex1", "a1", b"done"),
    ):
        tell(transport, sched.address, body)
    assert sched.calls[1:] == [
        ("offer_rescinded", "o1"),
        ("agent_lost", "a2"),
        ("executor_lost", "ex1", "a1", 137),
        ("framework_message", "ex1", "a1", b"done"),
    ]


def test_stop_tears_the_framework_down_and_forgets_the_id(start, master, transport, tmp_path) -> None:
    handle, sched = start(id_file=tmp_path / "fw.id")
    handle.stop()
    transport.settle()
    assert master.of(UnregisterFramework) == [UnregisterFramework(handle.framework_id)]
    assert IdFile(tmp_path / "fw.id").load() is None
    assert handle.join(1) and not handle.ref.is_alive()


def test_stop_with_failover_deactivates_and_keeps_the_id(start, master, transport, tmp_path) -> None:
    handle, sched = start(id_file=tmp_path / "fw.id")
    handle.stop(failover=True)
    transport.settle()
    assert master.of(DeactivateFramework) == [DeactivateFramework(handle.framework_id)]
    assert master.of(UnregisterFramework) == []
    assert IdFile(tmp_path / "fw.id").load() == handle.framework_id


def test_stop_called_from_a_callback_ends_join(start, master, transport) -> None:
    class StopsOnFirstUpdate(Recording):
        def status_update(self, status):
            self.stop()

    handle, sched = start(StopsOnFirstUpdate)
    assert not handle.join(0)
    tell(transport, sched.address, update(handle.framework_id))
    assert handle.join(1)
    assert master.of(UnregisterFramework) == [UnregisterFramework(handle.framework_id)]


def test_framework_error_calls_error_and_stops(start, master, transport) -> None:
    handle, sched = start()
    tell(transport, sched.address, FrameworkError("framework removed"))
    assert handle.join(1)
    assert sched.names()[-1] == "error" and handle.error == "framework removed"
    assert master.of(UnregisterFramework) == []


def test_offers_while_disconnected_are_declined_at_once(start, master, transport) -> None:
    handle, sched = start()
    master.answering = False
    tell(transport, sched.address, MasterHeartbeat("m1", known=False))
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id),)))
    assert "resource_offers" not in sched.names()
    assert master.of(Decline) == [Decline(handle.framework_id, ("o1",), Filters(0))]


def test_launch_while_disconnected_reports_the_task_lost(start, master, transport) -> None:
    handle, sched = start()
    master.answering = False
    tell(transport, sched.address, MasterHeartbeat("m1", known=False))
    task = sched.task(offer(handle.framework_id), "true", task_id="t1")
    sched.launch("o1", [task])
    transport.settle()
    assert master.of(Accept) == []
    status = sched.calls[-1][1]
    assert (status.task_id, status.state, status.uuid) == ("t1", TaskState.TASK_LOST, "")


def test_run_rejects_unknown_init_arguments(start, master) -> None:
    with pytest.raises(TypeError):
        start(not_an_option=1)


def test_run_rejects_a_memory_url(master) -> None:
    from actors.scheduler import Scheduler

    with pytest.raises(ValueError, match="memory://"):
        Scheduler.run("memory://")


def test_two_schedulers_with_one_id_in_one_process_is_an_error(start, master) -> None:
    start(framework_id="same")
    with pytest.raises(RuntimeError, match="could not start"):
        start(framework_id="same")


@pytest.mark.parametrize("bad", ["", "a/b", "a.b", "with space"])
def test_run_refuses_a_framework_id_that_cannot_name_a_mailbox(start, master, bad) -> None:
    with pytest.raises(ValueError, match="framework_id"):
        start(framework_id=bad)
