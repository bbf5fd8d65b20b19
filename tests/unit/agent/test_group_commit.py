"""Group commit: the agent writes a task's checkpoint once for all the messages it handled
together, and nothing that depends on a write leaves the agent before the write is done
(a status update is on disk before it is forwarded, so before its executor is
acknowledged; a task is on disk before its RunTask reaches the executor)."""

from __future__ import annotations

import errno
import time
from typing import Any

import pytest

from actors.agent.checkpoint import Checkpoint
from actors.agent.state import TaskRecord
from actors.agent.status_updates import Stream
from messages import (
    JOURNAL,
    Envelope,
    RegisterExecutor,
    ReregisterExecutor,
    RunTask,
    StatusUpdate,
    StatusUpdateAcknowledgement,
    TaskState,
    TaskStatus,
)
from tests.unit.agent.fakes import CMD, Cluster, FakeLauncher, PausingLauncher, ack, command_task, run

S = TaskState
AGENT = "agent.a1"


class LoggingCheckpoint(Checkpoint):
    """The disk checkpoint, logging every task write in the test's event log; it fails
    with `fail` (an OSError) while that is set."""

    log: list[tuple] = []
    fail: OSError | None = None

    def save_task(self, task: TaskRecord, stream: Stream | None) -> None:
        if self.fail is not None:
            raise self.fail
        super().save_task(task, stream)
        pending = tuple(u.uuid for u in stream.pending) if stream else ()
        LoggingCheckpoint.log.append(("write", task.task_id, pending))

    def remove_task(self, framework_id: str, task_id: str) -> None:
        super().remove_task(framework_id, task_id)
        LoggingCheckpoint.log.append(("remove", task_id))


@pytest.fixture
def events(monkeypatch, transport) -> list[tuple]:
    """One log of checkpoint writes and of what the agent sent, in the order they happened."""
    log: list[tuple] = []
    monkeypatch.setattr(LoggingCheckpoint, "log", log)
    monkeypatch.setattr(LoggingCheckpoint, "fail", None)
    monkeypatch.setattr("actors.agent.actor.Checkpoint", LoggingCheckpoint)

    def tap(envelope: Envelope, _body: bytes) -> None:
        if envelope.sender == AGENT and envelope.target not in (AGENT, JOURNAL):
            log.append(("send", envelope.target, envelope.body))

    transport.taps.append(tap)
    return log


def update(task_id: str, state: TaskState, uuid: str) -> StatusUpdate:
    return StatusUpdate("f1", "mesobus-command", "a1", TaskStatus(task_id, state, uuid=uuid), 0.0, uuid)


def publish(transport, body: Any, sender: str = "master") -> None:
    """Deliver without waiting for it to be handled."""
    transport.publish(Envelope(id=f"gc-{time.monotonic_ns()}", sender=sender, target=AGENT, body=body,
                               sent_at=transport.clock.now()))


def writes(events: list[tuple], task_id: str) -> list[tuple]:
    return [e for e in events if e[0] == "write" and e[1] == task_id]


def position(events: list[tuple], predicate) -> int:
    return next(i for i, e in enumerate(events) if predicate(e))


def test_an_update_is_on_disk_before_it_is_forwarded_and_before_its_executor_is_acknowledged(
    transport, tmp_path, executor, events
) -> None:
    c = Cluster(transport, tmp_path / "work", master={"auto_ack": True})
    c.say(run(command_task("t1")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    for state, uuid in ((S.TASK_STARTING, "u1"), (S.TASK_RUNNING, "u2"), (S.TASK_FINISHED, "u3")):
        c.say(update("t1", state, uuid), sender=CMD)

    run_sent = position(events, lambda e: e[0] == "send" and isinstance(e[2], RunTask))
    assert writes(events[:run_sent], "t1"), "the task is written before its RunTask leaves"
    for uuid in ("u1", "u2", "u3"):
        forwarded = position(events, lambda e: e[0] == "send" and e[1] == "master"
                             and isinstance(e[2], StatusUpdate) and e[2].uuid == uuid)
        acked = position(events, lambda e: e[0] == "send" and e[1] == CMD
                         and isinstance(e[2], StatusUpdateAcknowledgement) and e[2].uuid == uuid)
        written = position(events, lambda e: e[0] == "write" and uuid in e[2])
        assert written < forwarded < acked
    assert c.master.states("t1") == [S.TASK_STARTING, S.TASK_RUNNING, S.TASK_FINISHED]
    assert ("remove", "t1") in events
    assert list((tmp_path / "work" / "meta" / "frameworks").glob("*/tasks/*")) == []
    c.stop()


def test_messages_handled_together_write_each_task_once(transport, tmp_path, executor, events) -> None:
    launcher = PausingLauncher()
    c = Cluster(transport, tmp_path / "work", launcher)
    launcher.pause()
    publish(transport, run(command_task("t1")))
    assert launcher.entered.wait(5)  # the agent is busy launching the executor: the rest piles up
    publish(transport, RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    publish(transport, run(command_task("t2")))
    for task_id, n in (("t1", 1), ("t2", 3)):
        publish(transport, update(task_id, S.TASK_STARTING, f"u{n}"), sender=CMD)
        publish(transport, update(task_id, S.TASK_RUNNING, f"u{n + 1}"), sender=CMD)
    launcher.go.set()
    transport.settle()

    assert writes(events, "t1") == [("write", "t1", ("u1", "u2"))]
    assert writes(events, "t2") == [("write", "t2", ("u3", "u4"))]
    committed = position(events, lambda e: e[0] == "write" and e[1] == "t2")
    assert [e for e in events[:committed] if e[0] == "send" and isinstance(e[2], (RunTask, StatusUpdate))] == []
    assert [b.task.task_id for b in executor.bodies(RunTask)] == ["t1", "t2"]
    assert c.master.states("t1") == [S.TASK_STARTING] and c.master.states("t2") == [S.TASK_STARTING]
    c.stop()


def test_a_noop_task_costs_one_write(transport, tmp_path, events) -> None:
    c = Cluster(transport, tmp_path / "work", PausingLauncher(simulates_tasks=True), master={"auto_ack": True})
    c.say(run(command_task("t1")))
    running, finished = c.master.updates("t1")
    assert (running.status.state, finished.status.state) == (S.TASK_RUNNING, S.TASK_FINISHED)
    assert [e for e in events if e[0] != "send"] == [("write", "t1", (running.uuid, finished.uuid))]
    assert list((tmp_path / "work" / "meta").rglob("*.msgpack")) == [tmp_path / "work" / "meta" / "agent.msgpack"]
    c.stop()


def test_an_acknowledgement_from_the_master_writes_nothing(transport, tmp_path, executor, events) -> None:
    c = Cluster(transport, tmp_path / "work")
    c.say(run(command_task("t1")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    c.say(update("t1", S.TASK_RUNNING, "u1"), sender=CMD)
    before = len(writes(events, "t1"))
    c.say(ack(c.master.updates("t1")[0]))
    assert len(writes(events, "t1")) == before
    assert executor.bodies(StatusUpdateAcknowledgement)[-1].uuid == "u1"
    c.stop()


def test_after_a_crash_an_acknowledged_update_is_resent_and_acknowledged_again(
    transport, tmp_path, executor, events
) -> None:
    c = Cluster(transport, tmp_path / "work", FakeLauncher(alive_on_recover=True))
    c.say(run(command_task("t1")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    c.say(update("t1", S.TASK_RUNNING, "u1"), sender=CMD)
    c.say(ack(c.master.updates("t1")[0]))  # not written: the disk still has u1 pending
    c.restart()
    c.say(ReregisterExecutor("f1", "mesobus-command", tasks=(command_task("t1"),)), sender=CMD)
    assert [u.uuid for u in c.master.updates("t1")] == ["u1", "u1"]  # the framework sees it twice
    c.say(ack(c.master.updates("t1")[-1]))
    assert c.state()["pending_status_updates"] == 0
    c.stop()


def test_a_failed_write_holds_everything_until_a_retry_succeeds(transport, clock, tmp_path, events) -> None:
    c = Cluster(transport, tmp_path / "work", PausingLauncher(simulates_tasks=True))
    LoggingCheckpoint.fail = OSError(errno.ENOSPC, "No space left on device")
    publish(transport, run(command_task("t1")))
    deadline = time.monotonic() + 5
    while c.agent.counters["commit_failures"] < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert c.agent.counters["commit_failures"] == 1
    time.sleep(0.05)
    assert c.master.states("t1") == []  # nothing left: its update is not on disk
    LoggingCheckpoint.fail = None
    clock.advance(1)  # the retry
    transport.settle()
    assert c.master.states("t1") == [S.TASK_RUNNING]
    assert writes(events, "t1")
    c.stop()


def test_a_task_whose_file_cannot_be_named_runs_without_a_checkpoint(transport, tmp_path, events) -> None:
    long_id = "é" * 60  # a valid id (120 bytes); percent-encoded it is too long for a file name
    c = Cluster(transport, tmp_path / "work", PausingLauncher(simulates_tasks=True))
    c.say(run(command_task(long_id)))
    assert c.master.states(long_id) == [S.TASK_RUNNING]
    assert c.agent.counters["checkpoint_failures"] == 1 and c.agent.counters["commit_failures"] == 0
    c.stop()


def test_without_checkpointing_nothing_waits_and_nothing_is_written(transport, tmp_path, executor, events) -> None:
    c = Cluster(transport, tmp_path / "work", checkpoint=False)
    c.say(run(command_task("t1")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    c.say(update("t1", S.TASK_RUNNING, "u1"), sender=CMD)
    assert c.master.states("t1") == [S.TASK_RUNNING] and executor.bodies(RunTask)
    assert [e for e in events if e[0] != "send"] == [] and not (tmp_path / "work" / "meta").exists()
    assert c.agent.transport.holding is False
    c.stop()
