"""What an executor sends the services scheduler is read without letting any bytes stop
its actor (a RecursionError escaped the old `except ValueError`)."""

from __future__ import annotations

from actors.frameworks.services.scheduler import executor_json


def test_executor_messages_that_are_not_json_objects_are_none():
    assert executor_json(b'{"healthCheckResult": {"taskId": "t"}}') == {"healthCheckResult": {"taskId": "t"}}
    for data in (b"[" * 60_000, b"\xff", b"[1]", b"", b"{" + b" " * 70_000 + b"}"):
        assert executor_json(data) is None
