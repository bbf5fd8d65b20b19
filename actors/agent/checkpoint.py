"""Checkpointing: what an agent must remember across a restart, under `<work_dir>/meta`.

    meta/agent.msgpack                                   {"agent_id", "registered"}
    meta/frameworks/<fid>/framework.msgpack              FrameworkInfo
    meta/frameworks/<fid>/executors/<eid>.msgpack        ExecutorInfo, run id, sandbox, pid
    meta/frameworks/<fid>/tasks/<tid>.msgpack            TaskInfo, state, status update stream

Every file is msgpack, written to a temporary file, flushed, fsynced and renamed over the
old one, so a crash leaves either the old or the new version. Ids are percent-encoded in
file names. Directories are created once per store (not per write). The agent writes task
files in groups (`commit.py`): a task changed by several messages is written once.

>>> import tempfile
>>> cp = Checkpoint(tempfile.mkdtemp())
>>> cp.save_agent("a1", registered=True)
>>> cp.load().agent_id
'a1'
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import msgpack

from actors.agent.state import ExecutorPhase, ExecutorRecord, TaskRecord
from actors.agent.status_updates import Stream
from messages import ExecutorInfo, FrameworkInfo, MessageError, StatusUpdate, TaskInfo, TaskState
from messages.schema import from_plain, to_plain


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read; names the file."""


@dataclass
class Recovered:
    """What `Checkpoint.load` found (empty on a first start)."""

    agent_id: str = ""
    registered: bool = False
    frameworks: dict[str, FrameworkInfo] = field(default_factory=dict)
    executors: list[ExecutorRecord] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)


class Checkpoint:
    """The on-disk store. Tests may use `NullCheckpoint` where nothing should persist."""

    keeps_state = True  # False: writes are no-ops, so the agent need not wait for them

    def __init__(self, meta_dir: str | os.PathLike) -> None:
        self.root = Path(meta_dir)
        self._made: set[Path] = set()  # directories known to exist

    # --- writes -----------------------------------------------------------------------

    def save_agent(self, agent_id: str, *, registered: bool) -> None:
        self._write(self.root / "agent.msgpack", {"agent_id": agent_id, "registered": registered})

    def save_framework(self, info: FrameworkInfo) -> None:
        self._write(self._framework_dir(info.framework_id) / "framework.msgpack", to_plain(info))

    def remove_framework(self, framework_id: str) -> None:
        root = self._framework_dir(framework_id)
        self._made = {d for d in self._made if d != root and root not in d.parents}
        shutil.rmtree(root, ignore_errors=True)

    def save_executor(self, record: ExecutorRecord) -> None:
        self._write(self._executor_file(record.framework_id, record.executor_id), executor_to_plain(record))

    def remove_executor(self, framework_id: str, executor_id: str) -> None:
        _remove(self._executor_file(framework_id, executor_id))

    def save_task(self, task: TaskRecord, stream: Stream | None) -> None:
        self._write(self._task_file(task.framework_id, task.task_id), task_to_plain(task, stream))

    def remove_task(self, framework_id: str, task_id: str) -> None:
        _remove(self._task_file(framework_id, task_id))

    def save_tasks(self, batch: list[tuple[TaskRecord, Stream | None]]) -> list[BaseException | None]:
        """Write several tasks (a group commit's), each as `save_task` does, their fsyncs
        in parallel: the filesystem's journal commits concurrent fsyncs together, so a
        batch costs little more than one file (one at a time, each fsync is a journal
        commit of its own). Returns, per task, None or what its write raised."""
        if len(batch) < 2:
            return [_outcome(self.save_task, task, stream) for task, stream in batch]
        return list(_writers().map(lambda item: _outcome(self.save_task, *item), batch))

    def wipe(self) -> None:
        """Forget everything (the agent was told to shut down for good)."""
        self._made.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _write(self, path: Path, data: Any) -> None:
        directory = path.parent
        if directory not in self._made:
            directory.mkdir(parents=True, exist_ok=True)
            self._made.add(directory)
        try:
            _write(path, data)
        except FileNotFoundError:  # removed behind our back: make it again, once
            directory.mkdir(parents=True, exist_ok=True)
            _write(path, data)

    # --- recovery ---------------------------------------------------------------------

    def load(self) -> Recovered:
        found = Recovered()
        agent = self.root / "agent.msgpack"
        if agent.exists():
            data = _read(agent)
            found.agent_id = _field(agent, data, "agent_id", str)
            found.registered = _field(agent, data, "registered", bool)
        frameworks = self.root / "frameworks"
        if not frameworks.is_dir():
            return found
        for fdir in sorted(frameworks.iterdir()):
            path = fdir / "framework.msgpack"
            if path.exists():
                info = _decode(path, FrameworkInfo, _read(path))
                found.frameworks[info.framework_id] = info
            for path in sorted((fdir / "executors").glob("*.msgpack")):
                found.executors.append(executor_from_plain(path, _read(path), unquote(fdir.name), found.agent_id))
            for path in sorted((fdir / "tasks").glob("*.msgpack")):
                task, stream = task_from_plain(path, _read(path))
                found.tasks.append(task)
                found.streams.append(stream)
        return found

    # --- paths ------------------------------------------------------------------------

    def _framework_dir(self, framework_id: str) -> Path:
        return self.root / "frameworks" / entry_name(framework_id)

    def _executor_file(self, framework_id: str, executor_id: str) -> Path:
        return self._framework_dir(framework_id) / "executors" / f"{entry_name(executor_id)}.msgpack"

    def _task_file(self, framework_id: str, task_id: str) -> Path:
        return self._framework_dir(framework_id) / "tasks" / f"{entry_name(task_id)}.msgpack"


class NullCheckpoint(Checkpoint):
    """Remembers nothing (checkpointing off: simulations and benchmarks)."""

    keeps_state = False

    def __init__(self) -> None:
        super().__init__("/nonexistent")

    def save_agent(self, agent_id: str, *, registered: bool) -> None: ...
    def save_framework(self, info: FrameworkInfo) -> None: ...
    def remove_framework(self, framework_id: str) -> None: ...
    def save_executor(self, record: ExecutorRecord) -> None: ...
    def remove_executor(self, framework_id: str, executor_id: str) -> None: ...
    def save_task(self, task: TaskRecord, stream: Stream | None) -> None: ...
    def remove_task(self, framework_id: str, task_id: str) -> None: ...
    def wipe(self) -> None: ...

    def load(self) -> Recovered:
        return Recovered()


# --- the plain form of each file (also used by the journal and the in-memory store) ----


def executor_to_plain(record: ExecutorRecord) -> dict[str, Any]:
    return {
        "info": to_plain(record.info),
        "run_id": record.run_id,
        "sandbox": str(record.sandbox),
        "pid": record.pid,
    }


def executor_from_plain(where: object, data: dict, framework_id: str, agent_id: str) -> ExecutorRecord:
    """`where` names the source (a file) in errors."""
    return ExecutorRecord(
        framework_id=framework_id,
        info=_decode(where, ExecutorInfo, data.get("info")),
        run_id=_field(where, data, "run_id", str),
        sandbox=Path(_field(where, data, "sandbox", str)),
        pid=_field(where, data, "pid", int),
        phase=ExecutorPhase.RECONNECTING,
        agent_id=agent_id,
    )


def task_to_plain(task: TaskRecord, stream: Stream | None) -> dict[str, Any]:
    return {
        "framework_id": task.framework_id,
        "executor_id": task.executor_id,
        "info": to_plain(task.info),
        "state": task.state.value,
        "sandbox": str(task.sandbox or ""),
        "role": task.role,
        "pending": [to_plain(u) for u in stream.pending] if stream else [],
        "acked": list(stream.acked) if stream else [],
        "terminal_seen": stream.terminal_seen if stream else False,
    }


def task_from_plain(where: object, data: dict) -> tuple[TaskRecord, Stream]:
    state = _field(where, data, "state", str)
    try:
        task_state = TaskState(state)
    except ValueError:
        raise CheckpointError(f"{where}: unknown task state {state!r}") from None
    sandbox = _field(where, data, "sandbox", str)
    task = TaskRecord(
        framework_id=_field(where, data, "framework_id", str),
        executor_id=_field(where, data, "executor_id", str),
        info=_decode(where, TaskInfo, data.get("info")),
        state=task_state,
        sandbox=Path(sandbox) if sandbox else None,
        role=_field(where, data, "role", str),
    )
    pending = _field(where, data, "pending", list)
    stream = Stream(
        framework_id=task.framework_id,
        task_id=task.task_id,
        pending=[_decode(where, StatusUpdate, u) for u in pending],
        acked=list(_field(where, data, "acked", list)),
        terminal_seen=_field(where, data, "terminal_seen", bool),
    )
    return task, stream


def recovered_to_plain(found: Recovered) -> dict[str, Any]:
    """Everything `load` found, as msgpack-able data (the files' own forms, in order)."""
    streams = {s.key: s for s in found.streams}
    return {
        "agent_id": found.agent_id,
        "registered": found.registered,
        "frameworks": [to_plain(info) for info in found.frameworks.values()],
        "executors": [{"framework_id": e.framework_id, **executor_to_plain(e)} for e in found.executors],
        "tasks": [task_to_plain(t, streams.get(t.key)) for t in found.tasks],
    }


def recovered_from_plain(data: dict, where: object = "recovered checkpoint") -> Recovered:
    """The inverse of `recovered_to_plain`; raises CheckpointError naming `where`."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{where}: not a map")
    found = Recovered(
        agent_id=_field(where, data, "agent_id", str),
        registered=_field(where, data, "registered", bool),
    )
    for plain in _field(where, data, "frameworks", list):
        info = _decode(where, FrameworkInfo, plain)
        found.frameworks[info.framework_id] = info
    for plain in _field(where, data, "executors", list):
        fid = _field(where, plain, "framework_id", str)  # (also refuses a non-map)
        found.executors.append(executor_from_plain(where, plain, fid, found.agent_id))
    for plain in _field(where, data, "tasks", list):
        if not isinstance(plain, dict):
            raise CheckpointError(f"{where}: a task is not a map")
        task, stream = task_from_plain(where, plain)
        found.tasks.append(task)
        found.streams.append(stream)
    return found


def entry_name(identifier: str) -> str:
    # Percent-encode everything but [A-Za-z0-9_-]; so "." and ".." cannot name a directory.
    return quote(identifier, safe="").replace(".", "%2E") or "%00"


def _write(path: Path, data: Any) -> None:
    """Replace `path` atomically and durably (its directory must exist)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(msgpack.packb(data, use_bin_type=True))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


_WRITERS = 8  # parallel task writes of one process (all its agents)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _writers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_WRITERS, thread_name_prefix="checkpoint")
        return _pool


def _outcome(write: Any, *args: Any) -> BaseException | None:
    try:
        write(*args)
    except Exception as err:  # handed back to the committer, which sorts them
        return err
    return None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _read(path: Path) -> dict:
    try:
        data = msgpack.unpackb(path.read_bytes(), raw=False)
    except (OSError, ValueError, msgpack.UnpackException) as err:
        raise CheckpointError(f"{path}: unreadable checkpoint: {err}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: checkpoint is not a map")
    return data


def _field(where: object, data: dict, name: str, kind: type) -> Any:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CheckpointError(f"{where}: field {name!r} missing or not {kind.__name__}")
    return value


def _decode(where: object, cls: type, data: Any) -> Any:
    try:
        return from_plain(cls, data)
    except MessageError as err:
        raise CheckpointError(f"{where}: {err}") from None
