"""Agent replay: a recorded agent run replays from the journal with no divergence (fresh,
restarted and leaving agents), touching no file, and a changed agent is caught at the
first input it answers differently.

The recorded runs use a clock that moves a little every time it is read, as a real one
does: whatever the agent reads outside its frozen `now()` shows up as a divergence."""

from __future__ import annotations

import itertools
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from actors.agent import Agent
from actors.agent.checkpoint import Checkpoint, Recovered, recovered_to_plain
from actors.agent.replay import MemoryCheckpoint
from actors.agent.state import ExecutorPhase, ExecutorRecord, TaskRecord
from actors.agent.status_updates import Stream
from actors.executor.wire import encode_update
from actors.journal import FileJournal, JournalIndex, read_journal_file, replay
from actors.runtime import VirtualClock
from messages import (
    ActorStarted,
    Envelope,
    ExitedExecutor,
    FrameworkInfo,
    KillTask,
    PingAgent,
    RegisterExecutor,
    ReregisterExecutor,
    Resources,
    StatusUpdate,
    TaskInfo,
    TaskState,
    TaskStatus,
    UnregisterAgent,
)
from tests.unit.agent.fakes import (
    CMD,
    FRAMEWORK,
    Cluster,
    FakeLauncher,
    PausingLauncher,
    ack,
    command_task,
    executor_task,
    run,
)

S = TaskState
AGENT = "agent.a1"


class TickingClock(VirtualClock):
    """A virtual clock that also moves a microsecond each time it is read."""

    def now(self) -> float:
        self._now += 1e-6
        return self._now


@pytest.fixture
def clock() -> VirtualClock:
    return TickingClock(start=1_700_000_000.0)


@pytest.fixture
def journal(transport, tmp_path):
    j = FileJournal(str(tmp_path / "journal.msgpack"))
    transport.taps.append(j.tap)
    yield j
    j.close()


def index_of(journal: FileJournal) -> JournalIndex:
    journal.close()
    return JournalIndex(read_journal_file(journal.path))


def from_executor(c: Cluster, task_id: str, state: TaskState, uuid_: str) -> StatusUpdate:
    update = StatusUpdate("f1", "mesobus-command", "a1", TaskStatus(task_id, state, uuid=uuid_), 0.0, uuid_)
    c.say(update, sender=CMD)
    return update


def files_under(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def stop(c: Cluster) -> None:
    c.stop()
    for ref in c.refs:
        ref.actor_stopped.wait(2)  # its last InputsHandled is written on stop
    c.transport.settle()


# --- a working day: registration retries, tasks, acks, a kill, failures, idleness -------


@pytest.fixture
def working_day(transport, clock, tmp_path, journal, executor):
    launcher = FakeLauncher()
    c = Cluster(transport, tmp_path / "work", launcher, master={"answer": False, "auto_ack": True})
    for seconds in (1, 2, 4, 8):  # unanswered: the agent retries with jittered backoff
        clock.advance(seconds)
        transport.settle()
    c.master.answer = True
    clock.advance(16)  # the next retry (8-16 s after the last) is answered
    transport.settle()
    c.say(PingAgent())
    c.say(run(command_task("t1")))
    c.say(run(command_task("t2")))
    c.say(run(too_big("big")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    from_executor(c, "t1", S.TASK_RUNNING, "u1")
    from_executor(c, "t2", S.TASK_RUNNING, "u2")
    c.master.auto_ack = False
    finished = from_executor(c, "t1", S.TASK_FINISHED, "u3")
    for seconds in (10, 20):  # unacknowledged: resent
        clock.advance(seconds)
        transport.settle()
    c.say(ack(finished))
    c.master.auto_ack = True
    c.say(KillTask("f1", "t2"))
    from_executor(c, "t2", S.TASK_KILLED, "u4")
    c.say(KillTask("f1", "ghost"))
    launcher.fail_with = "no such program"
    c.say(run(executor_task("t3")))
    launcher.fail_with = ""
    clock.advance(5)  # the command executor is idle: shut down
    transport.settle()
    launcher.exit(launcher.launched[0])  # from this thread, as an exit watcher would
    transport.settle()
    clock.advance(80)  # no ping for 75 s: re-register
    transport.settle()
    live = c.state()
    stop(c)
    return index_of(journal), live, launcher, c


def too_big(task_id: str) -> TaskInfo:
    return replace(command_task(task_id), resources=Resources.parse("cpus:64"))


def task_with_data(task_id: str) -> TaskInfo:
    return replace(command_task(task_id), data=b"\x00\xffbinary")


def test_the_recorded_day_did_what_the_replay_tests_need(working_day) -> None:
    _, live, launcher, c = working_day
    assert c.master.states("t1")[-1] == S.TASK_FINISHED and c.master.states("t2")[-1] == S.TASK_KILLED
    assert c.master.states("ghost") == [S.TASK_LOST] and c.master.states("big") == [S.TASK_ERROR]
    assert c.master.states("t3") == [S.TASK_FAILED]
    assert len(c.master.bodies(ExitedExecutor)) == 2  # the failed launch and the idle executor
    assert live["counters"]["registration_retries"] >= 3 and live["counters"]["status_update_retries"] == 2


def test_a_recorded_agent_replays_with_no_divergence(working_day) -> None:
    index, live, _, _ = working_day
    result = replay(index, AGENT)
    assert result.matched, "\n".join(result.divergence.report())
    assert result.inputs == len(index.incarnations[AGENT][0].handled) > 20
    assert result.outputs > 20
    keys = ("registered", "tasks", "completed_tasks", "frameworks", "pending_status_updates", "used_resources")
    assert {k: result.state[k] for k in keys} == {k: live[k] for k in keys}


def test_replay_starts_and_writes_nothing_but_asks_the_launcher_the_same(working_day, tmp_path) -> None:
    index, _, launcher, _ = working_day
    before = files_under(tmp_path / "work")
    result = replay(index, AGENT)
    assert files_under(tmp_path / "work") == before
    replayed = result.actor.launcher
    assert [(s.env.executor_id, s.run_id) for s in replayed.launched][:1] == [
        (s.env.executor_id, s.run_id) for s in launcher.launched
    ]
    assert [s.env.executor_id for s in replayed.launched] == ["mesobus-command", "e1"]  # e1 failed when recorded
    assert result.actor.checkpoint.load().agent_id == "a1"


class KillDropper(Agent):
    """A regression: kills of running tasks are no longer passed to their executor."""

    def _on_kill_task(self, msg: KillTask) -> None:
        task = self.book.tasks.get((msg.framework_id, msg.task_id))
        if task is None or task.state == S.TASK_STAGING:
            super()._on_kill_task(msg)


class Uuid4Agent(Agent):
    """Takes its ids from uuid4 instead of its context."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


def test_an_agent_that_drops_kills_diverges_at_the_kill(working_day) -> None:
    index, _, _, _ = working_day
    result = replay(index, AGENT, factory=KillDropper.from_journal)
    assert not result.matched
    kill = result.divergence.input
    assert isinstance(kill.body, KillTask) and kill.body.task_id == "t2" and kill.target == AGENT
    assert result.divergence.expected.target == CMD and result.divergence.expected.body == kill.body
    assert result.divergence.actual is None


def test_an_agent_with_ids_from_uuid4_diverges_while_starting(working_day) -> None:
    index, _, _, _ = working_day
    result = replay(index, AGENT, factory=Uuid4Agent.from_journal)
    assert not result.matched and result.divergence.input is None
    assert "start-up" in result.divergence.report()[0]
    assert result.divergence.expected.body == result.divergence.actual.body  # same message, other id


def test_replay_until_the_kill_shows_the_task_still_running(working_day) -> None:
    index, _, _, _ = working_day
    (kill,) = [e for e in index.messages if isinstance(e.body, KillTask) and e.target == AGENT and e.body.task_id == "t2"]
    result = replay(index, AGENT, until=kill.id)
    assert result.matched
    assert [(t["id"], t["state"]) for t in result.state["tasks"]] == [("t2", "TASK_RUNNING")]


def test_messages_committed_together_replay_with_no_divergence(transport, clock, tmp_path, journal, executor) -> None:
    # Outputs held for a group commit go out after later inputs were handled: replay,
    # which commits after every input, must still see the same outputs for each input.
    launcher = PausingLauncher()
    c = Cluster(transport, tmp_path / "work", launcher, master={"auto_ack": True})
    launcher.pause()
    publish = lambda body, sender="master": transport.publish(  # noqa: E731
        Envelope(id=f"batch-{next(_batch_ids)}", sender=sender, target=AGENT, body=body, sent_at=clock.now()))
    publish(run(command_task("t1")))
    assert launcher.entered.wait(5)
    publish(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    publish(run(command_task("t2")))
    for task_id, state, uuid_ in (("t1", S.TASK_STARTING, "u1"), ("t1", S.TASK_RUNNING, "u2"), ("t2", S.TASK_RUNNING, "u3")):
        publish(StatusUpdate("f1", "mesobus-command", "a1", TaskStatus(task_id, state, uuid=uuid_), 0.0, uuid_), CMD)
    publish(KillTask("f1", "t2"))
    publish(PingAgent())
    launcher.go.set()
    transport.settle()
    from_executor(c, "t1", S.TASK_FINISHED, "u4")
    live = c.state()
    stop(c)
    assert live["counters"]["commits"] < live["counters"]["handled"] / 2  # batches were committed together

    index = index_of(journal)
    result = replay(index, AGENT)
    assert result.matched, "\n".join(result.divergence.report())
    assert result.inputs == len(index.incarnations[AGENT][0].handled) >= 12


_batch_ids = itertools.count(1)


# --- restarts and leaving -------------------------------------------------------------


@pytest.mark.parametrize("alive", [True, False], ids=["executor-survives", "executor-gone"])
def test_a_restarted_agent_replays_each_incarnation(transport, clock, tmp_path, journal, executor, alive) -> None:
    c = Cluster(transport, tmp_path / "work", FakeLauncher(alive_on_recover=alive))
    c.say(run(command_task("t1")))
    c.say(run(command_task("t2")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    running = from_executor(c, "t1", S.TASK_RUNNING, "u1")  # never acknowledged
    clock.advance(3)
    c.restart()
    if alive:
        finished = StatusUpdate("f1", "mesobus-command", "a1", TaskStatus("t1", S.TASK_FINISHED, uuid="u5"), 0.0, "u5")
        c.say(ReregisterExecutor("f1", "mesobus-command", tasks=(command_task("t1"),),
                                 updates=(encode_update(running), encode_update(finished))), sender=CMD)
    for update in c.master.bodies(StatusUpdate):
        c.say(ack(update))
    clock.advance(10)
    transport.settle()
    stop(c)

    index = index_of(journal)
    first, second = index.incarnations[AGENT]
    assert first.info.config["recovered"] is None
    assert second.info.config["recovered"]["registered"] is True
    assert len(second.info.config["alive_executors"]) == (1 if alive else 0)
    for incarnation in (0, -1):
        result = replay(index, AGENT, incarnation=incarnation)
        assert result.matched, "\n".join(result.divergence.report())
        assert result.inputs > 0 or incarnation == -1


def test_an_agent_that_leaves_replays_its_goodbye(transport, tmp_path, journal, executor) -> None:
    c = Cluster(transport, tmp_path / "work", FakeLauncher())
    c.say(run(command_task("t1")))
    c.say(RegisterExecutor("f1", "mesobus-command"), sender=CMD)
    c.refs[-1].proxy().leave().get()
    stop(c)
    assert c.master.bodies(UnregisterAgent) == [UnregisterAgent("a1")]

    result = replay(index_of(journal), AGENT)
    assert result.matched, "\n".join(result.divergence.report())
    assert result.actor.checkpoint.load() == Recovered()  # wiped, in memory


def test_the_start_record_holds_plain_data_only(transport, tmp_path, journal, executor) -> None:
    c = Cluster(transport, tmp_path / "work", FakeLauncher(alive_on_recover=True))
    c.say(run(task_with_data("t1")))
    c.restart()
    stop(c)

    def plain(value) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bool))

    records = index_of(journal).journal_records(ActorStarted)
    assert [r.body.kind for r in records] == ["agent", "agent"]
    assert all(plain(r.body.config) for r in records)
    assert records[0].body.config["command_executor"]["value"] == f"{sys.executable} -m actors.executor"
    assert replay(index_of(journal), AGENT).matched


# --- the in-memory checkpoint finds what the disk one would ------------------------------


def test_memory_checkpoint_loads_what_the_file_checkpoint_loads(tmp_path) -> None:
    disk, memory = Checkpoint(tmp_path / "meta"), MemoryCheckpoint()
    other = FrameworkInfo(user="bob", name="other", framework_id="f.2")
    executor = ExecutorRecord("f1", executor_task("x").executor, "run-1", tmp_path / "s", pid=7,
                              phase=ExecutorPhase.RECONNECTING)
    tasks = [TaskRecord("f1", "mesobus-command", task_with_data(t), S.TASK_RUNNING, tmp_path / t) for t in ("b", "a", "c")]
    update = StatusUpdate("f1", "mesobus-command", "a1", TaskStatus("a", S.TASK_RUNNING, uuid="u1", data=b"\x01"), 1.0, "u1")
    for store in (disk, memory):
        store.save_agent("a1", registered=True)
        store.save_framework(other)
        store.save_framework(FRAMEWORK)
        store.save_executor(executor)
        for task in tasks:
            store.save_task(task, Stream("f1", task.task_id, pending=[update] if task.task_id == "a" else []))
        store.remove_task("f1", "c")
        store.save_executor(ExecutorRecord("f.2", executor.info, "run-2", tmp_path / "t"))
        store.remove_framework("f.2")
    assert memory.load() == disk.load()
    assert [t.task_id for t in memory.load().tasks] == ["a", "b"]
    assert MemoryCheckpoint(recovered_to_plain(disk.load())).load() == disk.load()
