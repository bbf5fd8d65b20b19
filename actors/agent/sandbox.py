"""Sandboxes: the directories where executors and tasks run and write stdout/stderr. Their
names are ids, checked by messages/ids.py's rules before a sandbox is made.

Layout under the agent's work dir (as Mesos, without the agent id level):

    frameworks/<framework_id>/executors/<executor_id>/runs/<run_id>/    executor sandbox
        stdout, stderr                                              the executor's output
        tasks/<task_id>/stdout, stderr                              a command task's output
    frameworks/<framework_id>/executors/<executor_id>/runs/latest   -> the newest run

>>> import tempfile
>>> boxes = Sandboxes(tempfile.mkdtemp())
>>> run = boxes.create_executor("f1", "mesobus-command", "r1")
>>> sorted(p.name for p in run.iterdir())
['stderr', 'stdout', 'tasks']
>>> task_sandbox(run, "t1").relative_to(boxes.root).as_posix()
'frameworks/f1/executors/mesobus-command/runs/r1/tasks/t1'
"""

from __future__ import annotations

import os
from pathlib import Path

from actors.executor.task_sandbox import create_output_dir as _create
from actors.executor.task_sandbox import create_task_sandbox, task_sandbox  # noqa: F401  (part of the layout)


class Sandboxes:
    """Creates and names sandboxes under `root` (the agent's work dir)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def executor_dir(self, framework_id: str, executor_id: str, run_id: str) -> Path:
        return self.root / "frameworks" / framework_id / "executors" / executor_id / "runs" / run_id

    def create_executor(self, framework_id: str, executor_id: str, run_id: str) -> Path:
        """Create a run's sandbox (with stdout, stderr and tasks/) and point `latest` at it."""
        path = self.executor_dir(framework_id, executor_id, run_id)
        _create(path)
        (path / "tasks").mkdir(exist_ok=True)
        # Tasks of other users pass through (their sandboxes are below) but cannot list
        # or read the executor's: its output and its broker file are its own.
        for where in (path, path / "tasks"):
            os.chmod(where, 0o711)
        for name in ("stdout", "stderr"):
            os.chmod(path / name, 0o600)
        latest = path.parent / "latest"
        tmp = path.parent / f".latest.{run_id}"
        try:
            if tmp.is_symlink():
                tmp.unlink()
            tmp.symlink_to(run_id)
            os.replace(tmp, latest)
        except OSError:
            pass  # a convenience only
        return path

    def create_task(self, executor_sandbox: Path, task_id: str) -> Path:
        """Create a command task's sandbox inside its executor's (see `task_sandbox`)."""
        return create_task_sandbox(executor_sandbox, task_id)
