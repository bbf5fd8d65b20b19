"""`mesobus ps`: running tasks; with -a also the ended tasks of running and of removed frameworks."""

from __future__ import annotations

from actors.cli.show import render


def _task(task_id: str, framework_id: str, state: str) -> dict:
    return {"id": task_id, "framework_id": framework_id, "state": state, "slave_id": "a1",
            "resources": {"cpus": 0.1, "mem": 32}}


STATE = {
    "slaves": [{"id": "a1", "hostname": "vm-1"}],
    "frameworks": [{"id": "f1", "name": "live", "tasks": [_task("t1", "f1", "TASK_RUNNING")],
                    "completed_tasks": [_task("t0", "f1", "TASK_FINISHED")]}],
    "completed_frameworks": [{"id": "f2", "name": "gone", "tasks": [],
                              "completed_tasks": [_task("t2", "f2", "TASK_FAILED")]}],
}


def _rows(text: str) -> list[list[str]]:
    return [line.split()[:3] for line in text.splitlines()[1:]]


def test_ps_shows_running_tasks() -> None:
    assert _rows(render("ps", STATE, False)) == [["live", "t1", "TASK_RUNNING"]]


def test_ps_all_adds_ended_tasks_of_removed_frameworks_too() -> None:
    assert _rows(render("ps", STATE, True)) == [["live", "t1", "TASK_RUNNING"], ["live", "t0", "TASK_FINISHED"],
                                                ["gone", "t2", "TASK_FAILED"]]


def test_agents_says_which_are_deactivated_or_unreachable() -> None:
    agents = [{"id": i, "hostname": i, "active": active, "deactivated": deactivated,
               "resources": {"cpus": 1, "mem": 64}, "used_resources": {"cpus": 0, "mem": 0}}
              for i, active, deactivated in (("a1", True, False), ("a2", True, True), ("a3", False, False))]
    rows = [line.split()[:3] for line in render("agents", {"slaves": agents}).splitlines()[1:]]
    assert rows == [["a1", "a1", "active"], ["a2", "a2", "deactivated"], ["a3", "a3", "unreachable"]]
