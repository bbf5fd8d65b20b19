"""The checks in a task's data are read without letting any bytes raise out of the
executor (a RecursionError escaped the old `except ValueError`)."""

from __future__ import annotations

from actors.executor.readiness import checks_in


def test_task_data_nested_too_deeply_has_no_checks():
    assert checks_in(b"[" * 60_000, "readinessChecks", 1) == []
    assert checks_in(b'{"readinessChecks": [{"name": "r"}]}', "readinessChecks", 1) == [{"name": "r"}]
