"""The services framework's Scheduler subclass on the memory transport and a virtual
clock, against a fake master: launches, backoff driven by the clock, kills, and a
restarted scheduler that reconciles and keeps the tasks it finds."""

from __future__ import annotations

import time

from actors.frameworks.hosting import MemoryStore
from actors.frameworks.services import ServicesScheduler, call
from messages import (
    Accept,
    KillTask,
    Offer,
    ReconcileTasks,
    Resources,
    ResourceOffers,
    StatusUpdate,
    TaskState,
    TaskStatus,
)

from .conftest import tell


def offer(fid: str, offer_id: str) -> Offer:
    return Offer(offer_id, fid, "a1", "host1", Resources.parse("cpus:2;mem:1024;ports:[31000-31010]"))


def launched(master) -> list:
    return [t for a in master.of(Accept) for op in a.operations for t in op.tasks]


def update(transport, sched, task_id: str, state: TaskState) -> None:
    status = TaskStatus(task_id, state, agent_id="a1")
    tell(transport, sched.address, StatusUpdate(sched.framework_id, "mesobus-command", "a1", status, 0.0, f"u-{task_id}-{state.value}"))


def settle_until(transport, check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        transport.settle()
        time.sleep(0.01)


def test_an_app_is_launched_and_a_failed_task_replaced_after_the_backoff(start, master, transport, clock) -> None:
    handle, sched = start(ServicesScheduler, store=MemoryStore())
    call(handle, lambda s: s.services.put_app({"id": "/web", "cmd": "serve", "cpus": 0.5, "mem": 64,
                                               "backoffSeconds": 30}))
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o1"),)))
    [task] = launched(master)
    assert task.task_id.startswith("web.") and task.command.environment["PORT0"] == "31000"
    update(transport, sched, task.task_id, TaskState.TASK_RUNNING)
    update(transport, sched, task.task_id, TaskState.TASK_FAILED)
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o2"),)))
    assert len(launched(master)) == 1  # within the backoff: declined
    clock.advance(31)
    transport.settle()
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o3"),)))
    settle_until(transport, lambda: len(launched(master)) == 2)


def test_scaling_down_sends_kills_with_the_apps_grace_period(start, master, transport) -> None:
    handle, sched = start(ServicesScheduler, store=MemoryStore())
    call(handle, lambda s: s.services.put_app({"id": "/w", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 2,
                                               "taskKillGracePeriodSeconds": 7}))
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o1"),)))
    tasks = launched(master)
    for t in tasks:
        update(transport, sched, t.task_id, TaskState.TASK_RUNNING)
    call(handle, lambda s: s.services.put_app({"instances": 1}, app_id="/w", force=True))
    settle_until(transport, lambda: master.of(KillTask))
    [kill] = master.of(KillTask)
    assert kill.task_id in {t.task_id for t in tasks} and kill.grace_period == 7


def test_a_restarted_scheduler_reconciles_and_keeps_the_tasks_it_finds(start, master, transport) -> None:
    store = MemoryStore()
    handle, sched = start(ServicesScheduler, store=store)
    call(handle, lambda s: s.services.put_app({"id": "/k", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 2}))
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o1"),)))
    tasks = launched(master)
    for t in tasks:
        update(transport, sched, t.task_id, TaskState.TASK_RUNNING)
    fid = handle.framework_id
    handle.ref.stop()  # gone without a word, as a killed process
    master.got.clear()
    handle2, sched2 = start(ServicesScheduler, store=store, framework_id=fid)
    settle_until(transport, lambda: master.of(ReconcileTasks))
    explicit = [r for r in master.of(ReconcileTasks) if r.tasks]
    assert {ref.task_id for ref in explicit[0].tasks} == {t.task_id for t in tasks}
    for t in tasks:
        update(transport, sched2, t.task_id, TaskState.TASK_RUNNING)
    tell(transport, sched2.address, ResourceOffers((offer(fid, "o9"),)))
    assert master.of(KillTask) == [] and launched(master) == []
    assert call(handle2, lambda s: sorted(s.services.apps["/k"].tasks)) == sorted(t.task_id for t in tasks)
