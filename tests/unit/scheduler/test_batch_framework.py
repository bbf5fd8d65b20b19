"""The sample batch framework against a fake master: packing, retries, stopping."""

from __future__ import annotations

from actors.frameworks.batch import BatchScheduler
from messages import (
    Accept,
    Decline,
    Offer,
    Resources,
    ResourceOffers,
    Revive,
    StatusUpdate,
    Suppress,
    TaskState,
    TaskStatus,
    UnregisterFramework,
)

from .conftest import tell


def offer(fid: str, offer_id: str, resources: str = "cpus:1;mem:256") -> Offer:
    return Offer(offer_id, fid, "a1", "host1", Resources.parse(resources))


def finish(transport, sched, task_id: str, state=TaskState.TASK_FINISHED, uuid: str = "") -> None:
    status = TaskStatus(task_id, state, agent_id="a1")
    tell(transport, sched.address, StatusUpdate(sched.framework_id, "mesobus-command", "a1", status, 0.0, uuid or task_id))


def launched(master) -> list:
    return [t for a in master.of(Accept) for op in a.operations for t in op.tasks]


def test_offer_is_packed_with_as_many_tasks_as_fit(start, master, transport) -> None:
    handle, sched = start(BatchScheduler, commands=[f"echo {i}" for i in range(5)], cpus=0.25, mem=32)
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o1"),)))
    tasks = launched(master)
    assert [t.command.value for t in tasks] == ["echo 0", "echo 1", "echo 2", "echo 3"]
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o2"),)))
    assert [t.command.value for t in launched(master)][4:] == ["echo 4"]
    assert master.of(Suppress)  # nothing left to launch: no more offers wanted


def test_failed_task_is_retried_with_a_new_id_then_the_batch_stops(start, master, transport) -> None:
    handle, sched = start(BatchScheduler, commands=["true", "false-once"], max_retries=1)
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o1"),)))
    first, second = launched(master)
    finish(transport, sched, first.task_id)
    finish(transport, sched, second.task_id, TaskState.TASK_FAILED)
    assert master.of(Revive)
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o2"),)))
    retry = launched(master)[2]
    assert retry.command.value == "false-once" and retry.task_id != second.task_id
    assert master.of(UnregisterFramework) == []
    finish(transport, sched, retry.task_id)
    assert handle.join(1)
    progress = sched.progress()
    assert (progress.finished, progress.failed, progress.retries, progress.done) == (2, 0, 1, True)
    assert master.of(UnregisterFramework) == [UnregisterFramework(handle.framework_id)]


def test_task_out_of_retries_counts_as_failed(start, master, transport) -> None:
    handle, sched = start(BatchScheduler, commands=["false"], max_retries=0)
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o1"),)))
    [task] = launched(master)
    finish(transport, sched, task.task_id, TaskState.TASK_FAILED)
    assert handle.join(1)
    assert sched.progress().failed == 1 and sched.progress().states == {"FAILED": 1}


def test_offer_too_small_is_declined(start, master, transport) -> None:
    handle, sched = start(BatchScheduler, commands=["true"], cpus=2, mem=32)
    tell(transport, sched.address, ResourceOffers((offer(handle.framework_id, "o1"),)))
    assert master.of(Accept) == [] and master.of(Decline)[0].offer_ids == ("o1",)
