"""The agent's checkpoint: what a restarted agent finds in its work dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.agent.checkpoint import Checkpoint, CheckpointError
from actors.agent.state import ExecutorPhase, ExecutorRecord, TaskRecord
from actors.agent.status_updates import Stream
from messages import CommandInfo, ExecutorInfo, FrameworkInfo, Resources, StatusUpdate, TaskInfo, TaskState, TaskStatus


def task(task_id: str = "t1", framework_id: str = "f1") -> TaskRecord:
    info = TaskInfo(task_id, "t", "a1", Resources.parse("cpus:1;mem:64"), command=CommandInfo("sleep 1"))
    return TaskRecord(framework_id, "mesobus-command", info, TaskState.TASK_RUNNING, Path("/sandbox"), "web")


def update(uuid: str, state: TaskState) -> StatusUpdate:
    return StatusUpdate("f1", "mesobus-command", "a1", TaskStatus("t1", state, uuid=uuid), 1.0, uuid)


def test_a_new_work_dir_has_nothing_to_recover(tmp_path):
    found = Checkpoint(tmp_path / "meta").load()
    assert (found.agent_id, found.tasks, found.executors, found.frameworks) == ("", [], [], {})


def test_agent_framework_executor_and_task_survive_a_restart(tmp_path):
    cp = Checkpoint(tmp_path / "meta")
    cp.save_agent("a1", registered=True)
    cp.save_framework(FrameworkInfo(user="u", name="fw", framework_id="f1", checkpoint=True))
    cp.save_executor(ExecutorRecord("f1", ExecutorInfo("e1", CommandInfo("run")), "r1", Path("/box"), pid=42))
    stream = Stream("f1", "t1", pending=[update("u2", TaskState.TASK_FINISHED)], acked=["u1"], terminal_seen=True)
    cp.save_task(task(), stream)

    found = Checkpoint(tmp_path / "meta").load()
    assert (found.agent_id, found.registered) == ("a1", True)
    assert found.frameworks["f1"].checkpoint is True
    (executor,) = found.executors
    assert (executor.key, executor.run_id, executor.pid, executor.phase) == (("f1", "e1"), "r1", 42, ExecutorPhase.RECONNECTING)
    (restored,) = found.tasks
    assert restored.info == task().info and restored.state == TaskState.TASK_RUNNING and restored.role == "web"
    (restored_stream,) = found.streams
    assert [u.uuid for u in restored_stream.pending] == ["u2"] and restored_stream.acked == ["u1"]


def test_removed_entries_are_gone_after_a_restart(tmp_path):
    cp = Checkpoint(tmp_path / "meta")
    cp.save_framework(FrameworkInfo(user="u", name="fw", framework_id="f1"))
    cp.save_task(task("t1"), None)
    cp.save_task(task("t2"), None)
    cp.remove_task("f1", "t1")
    assert [t.task_id for t in cp.load().tasks] == ["t2"]
    cp.remove_framework("f1")
    assert cp.load().tasks == [] and cp.load().frameworks == {}


@pytest.mark.parametrize("odd", ["..", ".", "a b", "x%2Fy", "über", "a:b"])
def test_ids_that_are_not_plain_file_names_are_stored_safely(tmp_path, odd):
    cp = Checkpoint(tmp_path / "meta")
    cp.save_task(task(odd, framework_id=odd), None)
    (found,) = cp.load().tasks
    assert (found.framework_id, found.task_id) == (odd, odd)
    assert all(p.resolve().is_relative_to(tmp_path / "meta") for p in (tmp_path / "meta").rglob("*"))


def test_writes_leave_no_temporary_files(tmp_path):
    cp = Checkpoint(tmp_path / "meta")
    for n in range(5):
        cp.save_agent(f"a{n}", registered=False)
    assert sorted(p.name for p in (tmp_path / "meta").iterdir()) == ["agent.msgpack"]


def test_corrupt_checkpoint_is_reported_with_its_path(tmp_path):
    cp = Checkpoint(tmp_path / "meta")
    cp.save_agent("a1", registered=True)
    (tmp_path / "meta" / "agent.msgpack").write_bytes(b"\xc1not msgpack")
    with pytest.raises(CheckpointError, match="agent.msgpack"):
        cp.load()


def test_wipe_forgets_everything(tmp_path):
    cp = Checkpoint(tmp_path / "meta")
    cp.save_agent("a1", registered=True)
    cp.wipe()
    assert cp.load().agent_id == ""


def test_directories_are_made_once_not_for_every_write(tmp_path, monkeypatch):
    made: list[Path] = []
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        made.append(self)
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    cp = Checkpoint(tmp_path / "meta")
    cp.save_task(task("t1"), None)
    first = len(made)
    assert first > 0
    for _ in range(5):
        cp.save_task(task("t1"), None)
        cp.save_task(task("t2"), None)
    assert len(made) == first
    cp.remove_framework("f1")  # its directories are gone: made again when needed
    cp.save_task(task("t1"), None)
    assert len(made) > first and [t.task_id for t in cp.load().tasks] == ["t1"]


def test_a_directory_removed_behind_the_stores_back_is_made_again(tmp_path):
    import shutil

    cp = Checkpoint(tmp_path / "meta")
    cp.save_task(task("t1"), None)
    shutil.rmtree(tmp_path / "meta")
    cp.save_task(task("t2"), None)
    assert [t.task_id for t in cp.load().tasks] == ["t2"]


def test_a_batch_of_tasks_is_written_together_and_each_write_answers_for_itself(tmp_path):
    cp = Checkpoint(tmp_path / "meta")
    batch = [(task(f"t{n}"), None) for n in range(20)] + [(task("x" * 300), None)]  # a name too long
    outcomes = cp.save_tasks(batch)
    assert outcomes[:20] == [None] * 20
    assert isinstance(outcomes[20], OSError)
    assert sorted(t.task_id for t in Checkpoint(tmp_path / "meta").load().tasks) == sorted(f"t{n}" for n in range(20))
    assert not [p for p in (tmp_path / "meta").rglob(".*.tmp")]
