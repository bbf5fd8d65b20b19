"""The jobs scheduler actor on a memory transport and a virtual clock, against a fake
master: it wakes by itself (self.delay) when a run is due, launches on offers, and a
restarted scheduler on the same store reconciles its launched run instead of repeating it."""

from __future__ import annotations

import itertools

from actors.frameworks.hosting import FileStore, MemoryStore
from actors.frameworks.jobs import JobsScheduler, call
from actors.runtime import ActorContext, IdSource
from messages import (
    Accept, Envelope, Offer, ReconcileTasks, Resources, ResourceOffers, Revive, StatusUpdate, TaskState, TaskStatus,
)

_ids = itertools.count()


def tell(transport, target: str, body) -> None:
    transport.publish(Envelope(id=f"t-{next(_ids)}", sender="master", target=target, body=body))
    transport.settle()


def launched(got: list) -> list:
    return [t for a in got if isinstance(a, Accept) for op in a.operations for t in op.tasks]


def offer(sched, n: int) -> ResourceOffers:
    return ResourceOffers((Offer(f"o{n}", sched.framework_id, "a1", "h1", Resources.parse("cpus:2;mem:1024")),))


def start(transport, clock, store, **options):
    handle = JobsScheduler.run(transport, context=ActorContext(clock=clock, ids=IdSource("fw"), seed=1),
                               user="tester", store=store, **options)
    transport.settle()
    return handle


def test_due_runs_wake_the_scheduler_and_start_on_the_virtual_clock(transport, clock, got) -> None:
    handle = start(transport, clock, MemoryStore())
    sched = handle.scheduler
    start_at = clock.now()
    call(handle, lambda s: s.jobs.put({"name": "tick", "command": "true", "schedule": "R//PT2S"}))
    transport.settle()
    tell(transport, sched.address, offer(sched, 1))
    [first] = launched(got)
    assert first.task_id.startswith(f"ct:{int(start_at * 1000)}:0:tick:")
    status = TaskStatus(first.task_id, TaskState.TASK_FINISHED, agent_id="a1")
    tell(transport, sched.address, StatusUpdate(sched.framework_id, "", "a1", status, clock.now(), "u1"))
    got.clear()
    clock.advance(2.0)  # the timer set by the scheduler itself fires
    transport.settle()
    assert any(isinstance(m, Revive) for m in got)  # it asks for offers for the due run
    tell(transport, sched.address, offer(sched, 2))
    [second] = launched(got)
    assert second.task_id.startswith(f"ct:{int((start_at + 2) * 1000)}:0:tick:")
    assert call(handle, lambda s: s.jobs.stats["tick"].successCount) == 1
    handle.ref.stop()


def test_a_restarted_scheduler_reconciles_its_run_and_does_not_repeat_it(transport, clock, got) -> None:
    store = MemoryStore()
    handle = start(transport, clock, store)
    sched = handle.scheduler
    call(handle, lambda s: s.jobs.put({"name": "once", "command": "true", "schedule": "R1//PT1H"}))
    transport.settle()
    tell(transport, sched.address, offer(sched, 1))
    [task] = launched(got)
    framework_id = handle.framework_id
    handle.ref.stop()  # dies without a word
    transport.settle()
    got.clear()
    again = start(transport, clock, store, framework_id=framework_id, state=store.load())
    asked = [ref.task_id for m in got if isinstance(m, ReconcileTasks) for ref in m.tasks]
    assert task.task_id in asked
    tell(transport, again.scheduler.address, offer(again.scheduler, 2))
    assert launched(got) == []  # the run is not repeated
    status = TaskStatus(task.task_id, TaskState.TASK_FINISHED, agent_id="a1")
    tell(transport, again.scheduler.address, StatusUpdate(framework_id, "", "a1", status, clock.now(), "u2"))
    assert call(again, lambda s: s.jobs.stats["once"].successCount) == 1
    again.ref.stop()


def test_a_revive_asked_for_too_soon_after_the_last_is_sent_when_its_time_is_up(transport, clock, got) -> None:
    handle = start(transport, clock, MemoryStore())
    call(handle, lambda s: s.jobs.put({"name": "a", "command": "true", "schedule": "R//PT1H"}))
    transport.settle()
    got.clear()
    clock.advance(0.05)  # within REVIVE_EVERY of the revive for "a"
    call(handle, lambda s: s.jobs.put({"name": "b", "command": "true", "schedule": "R//PT1H"}))
    transport.settle()
    assert not [m for m in got if isinstance(m, Revive)]  # not yet: at most one revive per 0.1 s
    clock.advance(0.06)
    transport.settle()
    assert len([m for m in got if isinstance(m, Revive)]) == 1  # owed, not dropped
    handle.ref.stop()


class _WatchedStore(FileStore):
    """A FileStore noting which record put a task id on a run, and, each time a wait
    returns, how far the file is durable and how many launches the master had received."""

    def __init__(self, path, got: list) -> None:
        super().__init__(path)
        self.got, self.launch_records, self.waits = got, [], []

    def stage(self, key, value):
        number = super().stage(key, value)
        if isinstance(value, dict) and any(run.get("task") for run in (value.get("runs") or {}).values()):
            self.launch_records.append(number)
        return number

    def wait(self, number=None):
        super().wait(number)
        self.waits.append((self._durable, sum(isinstance(m, Accept) for m in self.got)))


def test_a_run_is_durable_before_its_launch_and_a_call_before_its_answer(transport, clock, got, tmp_path) -> None:
    store = _WatchedStore(tmp_path / "jobs.state", got)
    handle = start(transport, clock, store)
    sched = handle.scheduler
    call(handle, lambda s: s.jobs.put({"name": "once", "command": "true", "schedule": "R1//PT1H"}))
    assert store._durable == store._written  # answered: on disk
    tell(transport, sched.address, offer(sched, 1))
    assert len(launched(got)) == 1
    [record] = store.launch_records
    first_covering = next(seen for durable, seen in store.waits if durable >= record)
    assert first_covering == 0  # durable while the master had no launch yet
    handle.ref.stop()
    store.close()
