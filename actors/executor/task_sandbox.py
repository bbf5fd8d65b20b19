"""A command task's sandbox: the directory the command executor makes for each task inside
its own sandbox (the layout is the agent's, actors/agent/sandbox.py; this part lives with
the executor, which creates it).

>>> import tempfile
>>> from pathlib import Path
>>> box = create_task_sandbox(Path(tempfile.mkdtemp()), "t1")
>>> box.name, sorted(p.name for p in box.iterdir())
('t1', ['stderr', 'stdout'])
"""

from __future__ import annotations

from pathlib import Path


def task_sandbox(executor_sandbox: Path, task_id: str) -> Path:
    """Where the command executor runs task `task_id` (inside its own sandbox)."""
    return executor_sandbox / "tasks" / task_id


def create_task_sandbox(executor_sandbox: Path, task_id: str) -> Path:
    path = task_sandbox(executor_sandbox, task_id)
    create_output_dir(path)
    return path


def create_output_dir(path: Path) -> None:
    """A sandbox directory with its (empty) stdout and stderr."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("stdout", "stderr"):
        (path / name).touch(exist_ok=True)
